"""What the engine decides on, rebuilt from the log at start: every order's state, the ClOrdIDs
in use, and the risk state (what the orders use of their limits, the message and duplicate
windows, who sent each order, the engaged kill switches). Changed only by folding events, live
(`track` after each staged event) or replayed (`fold`), through the same code: a restart never
resets usage, and the two can never differ."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from orders import store
from orders.domain import cl_ord_ids
from orders.domain import events as ev
from orders.domain.calendar import Zone, trading_day
from orders.domain.fold import apply
from orders.domain.state import OrderState
from reconciliation.domain import breaks as recon
from reconciliation.domain import events as rev
from risk.domain import DuplicateWindow, KillSwitches, MessageWindow, RiskUsage, Scope, Switch, trader_of
from risk.domain import events as risk_ev

# The first event of a command that is a client's message (a submit, a cancel or a replace, let
# through or refused): what the message rate counts. A venue's refusal is the venue's, and a
# kill switch's cancels follow its own event.
CLIENT_MESSAGE_EVENTS = (
    ev.OrderAccepted,
    ev.OrderRejected,
    ev.OrderCancelRequested,
    ev.OrderReplaceRequested,
    ev.OrderCancelRejected,
    ev.OrderReplaceRejected,
)
CLIENT_ACTORS = ("user:", "fix:")
_CLAIMING_EVENTS = frozenset(cl_ord_ids.CLAIMING_EVENTS)


@dataclass
class EngineState:
    orders: dict[int, OrderState] = field(default_factory=dict)
    # (account, trading day, ClOrdID) -> (order id, what it names: "order", "cancel" or
    # "replace"). One map: FIX wants a ClOrdID unique across orders and their requests.
    cl_ord_ids: dict[tuple[str, date, str], tuple[int, str]] = field(default_factory=dict)
    last_position: int = 0
    last_order_id: int = 0
    usage: RiskUsage = field(default_factory=RiskUsage)
    messages: MessageWindow = field(default_factory=MessageWindow)
    duplicates: DuplicateWindow = field(default_factory=DuplicateWindow)
    kill_switches: KillSwitches = field(default_factory=KillSwitches)
    traders: dict[int, str | None] = field(default_factory=dict)  # top-level order -> who sent it
    live: set[int] = field(default_factory=set)  # top-level orders not done: what a kill switch sweeps
    risk_version: int = 0  # events on the risk stream
    # Reconciliation breaks by id, open and closed (a dismissed one keeps its difference quiet):
    # reconciliation/domain/breaks.py decides on them.
    breaks: dict[int, recon.Break] = field(default_factory=dict)
    _last_command: str = ""

    def fold(self, stored: store.StoredEvent, zone: Zone) -> None:
        """One event from the log (replay)."""
        event = stored.event
        self.last_position = stored.position
        if stored.stream_type == risk_ev.RISK_STREAM:
            self.risk_version = stored.stream_version
            self.track_risk(event, stored.actor, stored.command_id)  # type: ignore[arg-type]
            return
        if stored.stream_type == rev.RECONCILIATION_STREAM:
            self.track_reconciliation(event)  # type: ignore[arg-type]
            return
        order_id = event.order_id
        orders = self.orders
        before = orders.get(order_id)
        after = orders[order_id] = apply(before, event)
        if order_id > self.last_order_id:
            self.last_order_id = order_id
        if type(event) in _CLAIMING_EVENTS:  # most events claim no ClOrdID: skip the call
            self.claim(stored.account, event, zone)
        self.track(event, before, after, stored.actor, stored.command_id)

    def track(self, event: ev.Event, before: OrderState | None, after: OrderState, actor: str, command_id: str) -> None:
        """The risk state follows one order event (folded: `before` -> `after`)."""
        valued_at = None
        if isinstance(event, ev.OrderAccepted) and event.parent_id is None:
            valued_at = event.risk.valued_at if event.risk is not None else None
            self.traders[event.order_id] = trader_of(actor)
            self.duplicates.record(
                event.account, event.symbol, event.side, event.quantity, event.limit_price, event.at_ns
            )
        self.usage.update(before, after, valued_at)
        if after.parent_id is None:
            if after.is_done:
                self.live.discard(after.order_id)
            else:
                self.live.add(after.order_id)
        if command_id != self._last_command:
            self._last_command = command_id
            if isinstance(event, CLIENT_MESSAGE_EVENTS) and after.parent_id is None and actor.startswith(CLIENT_ACTORS):
                self.messages.record(after.account, event.at_ns)

    def track_risk(self, event: risk_ev.RiskEvent, actor: str, command_id: str) -> None:
        self._last_command = command_id
        if isinstance(event, risk_ev.KillSwitchEngaged):
            self.kill_switches.engage(Switch(Scope(event.scope), event.target, actor, event.reason, event.at_ns))
        elif isinstance(event, risk_ev.KillSwitchReleased):
            self.kill_switches.release(Scope(event.scope), event.target)

    def track_reconciliation(self, event: rev.ReconciliationEvent) -> recon.Break:
        """The break `event` is about, after it. An accepted adjustment moves the risk usage's
        position too: the venue's figure is what the limits count from then on."""
        if isinstance(event, rev.PositionAdjusted):
            self.usage.adjust(event.account, event.symbol, event.quantity, event.price)
        after = recon.apply(self.breaks.get(event.stream_id), event)
        self.breaks[event.stream_id] = after
        return after

    def claim(self, account: str, event: ev.Event, zone: Zone) -> None:
        """Note the ClOrdID `event` introduces, if any."""
        cl_ord_id = cl_ord_ids.introduced(event)
        if cl_ord_id is not None:
            key = (account, trading_day(event.at_ns, zone), cl_ord_id)
            self.cl_ord_ids.setdefault(key, (event.order_id, cl_ord_ids.named_by(event)))

    def claimed(self, account: str, cl_ord_id: str, at_ns: int, zone: Zone) -> tuple[int, str] | None:
        """(order id, what it names) of the ClOrdID `account` used today, or the day before if that
        was lately enough to be a retry of the same submission (cl_ord_ids.days_to_check)."""
        days = cl_ord_ids.days_to_check(at_ns, zone)
        found = self.cl_ord_ids.get((account, days[0], cl_ord_id))
        if found is None and len(days) > 1:
            found = self.cl_ord_ids.get((account, days[1], cl_ord_id))
            order = self.orders.get(found[0]) if found else None
            if order is None or order.created_at_ns < at_ns - cl_ord_ids.RETRY_WINDOW_NS:
                return None
        return found
