"""Committed log events to blotter messages (docs/blotter.md): the same code for the feed's live
batches and for a consumer's catch-up from the log, so both say the same.

Rows have the REST API's shapes (its serializers make them). An order's row is the order as the
event left it: the fold of its stream up to that event, not the projection as it is now, so a
message replayed later says what it said live. Positions and kill switches are the projection's
row after the batch (their state is not a fold of one stream); they only ever move forward.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from orders import calendars, store
from orders.domain import events as ev
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.domain.values import WORKING_STATUSES
from orders.models import Fill, Order, Position
from orders.projections import FILL_COLUMNS, ORDER_COLUMNS, fill_row, order_row
from orders.serializers import FillSerializer, OrderSerializer, PositionSerializer
from reconciliation.domain.events import RECONCILIATION_STREAM
from reconciliation.models import ReconciliationBreak
from reconciliation.serializers import BreakSerializer
from risk.domain.events import RISK_STREAM
from risk.domain.kill_switch import Scope
from risk.models import KillSwitch
from risk.serializers import KillSwitchSerializer

KILL_SWITCH_EVENTS = frozenset({"KillSwitchEngaged", "KillSwitchReleased"})
_ORDER_ATTRS = {f.column: f.attname for f in Order._meta.concrete_fields}
_FILL_ATTRS = {f.column: f.attname for f in Fill._meta.concrete_fields}


@dataclass(frozen=True, slots=True)
class Outgoing:
    account: str | None  # whose it is (None: everyone's: a firm or venue kill switch) ...
    message: dict[str, Any]
    trader: str | None = None  # ... or a trader's: a kill switch on them
    oversight: bool = False  # ... or only for those who see every account (a reconciliation break)

    def for_user(self, accounts: frozenset[str] | None, username: str) -> bool:
        """Whether a user who sees `accounts` (None: all) is to see it."""
        if accounts is None:
            return True
        if self.oversight:
            return False
        if self.account is not None:
            return self.account in accounts
        return self.trader is None or self.trader == username


class OrderStates:
    """Orders as the events so far leave them. An order first met mid-stream is folded from its
    history once; one that is over is forgotten after the batch (a late bust folds it again)."""

    def __init__(self) -> None:
        self._states: dict[int, OrderState] = {}
        self._applied: dict[int, int] = {}  # order id -> the position of the last event applied

    def prime(self, batch: list[store.StoredEvent]) -> None:
        first_seen: dict[int, int] = {}
        for stored in batch:
            if stored.stream_type == store.ORDER_STREAM and stored.stream_id not in self._states:
                first_seen.setdefault(stored.stream_id, stored.stream_version)
        unknown = [order_id for order_id, version in first_seen.items() if version > 1]
        if unknown:
            for stored in store.read_streams_before(unknown, batch[0].position):
                self.apply(stored)

    def apply(self, stored: store.StoredEvent) -> OrderState:
        """The order after the event; an event applied already (a batch handled again after a
        failure) leaves it as it is."""
        state = self._states.get(stored.stream_id)
        if state is not None and stored.position <= self._applied[stored.stream_id]:
            return state
        state = self._states[stored.stream_id] = apply(state, stored.event)
        self._applied[stored.stream_id] = stored.position
        return state

    def forget_finished(self) -> None:
        for order_id in [i for i, s in self._states.items() if s.status not in WORKING_STATUSES and not s.pending]:
            del self._states[order_id], self._applied[order_id]


def order_rows(states: Iterable[OrderState]) -> list[dict[str, Any]]:
    zone = calendars.oms_day()
    orders = [Order(**{_ORDER_ATTRS[c]: v for c, v in zip(ORDER_COLUMNS, order_row(s, zone), strict=True)})
              for s in states]  # fmt: skip
    return list(OrderSerializer(orders, many=True).data)


def messages_for(batch: list[store.StoredEvent], states: OrderStates) -> list[Outgoing]:
    """A batch of committed events (in position order) as blotter messages, in position order."""
    states.prime(batch)
    out: list[Outgoing] = []
    order_states: list[OrderState] = []
    order_messages: list[dict[str, Any]] = []
    fills: list[Fill] = []
    fill_messages: list[dict[str, Any]] = []
    position_at: dict[tuple[str, str], int] = {}
    switch_at: dict[tuple[str, str], int] = {}
    break_at: dict[int, int] = {}
    for stored in batch:
        if stored.stream_type == store.ORDER_STREAM:
            state = states.apply(stored)
            message = {"type": "order", "position": stored.position, "event": stored.event_type}
            order_states.append(state)
            order_messages.append(message)
            out.append(Outgoing(state.account, message))
            event = stored.event
            if state.is_parent:
                continue  # its fills are its children's, booked on them
            if isinstance(event, ev.FILL_EVENTS):
                values = fill_row(stored.position, state, event)
                fills.append(Fill(**{_FILL_ATTRS[c]: v for c, v in zip(FILL_COLUMNS, values, strict=True)}))
                fill = {"type": "fill", "position": stored.position}
                fill_messages.append(fill)
                out.append(Outgoing(state.account, fill))
            if isinstance(event, (*ev.FILL_EVENTS, ev.FillBusted, ev.FillCorrected)):
                position_at[state.account, state.symbol] = stored.position
        elif stored.stream_type == RISK_STREAM and stored.event_type in KILL_SWITCH_EVENTS:
            target = stored.payload.get("target") or ""
            switch_at[stored.payload["scope"], target] = stored.position
        elif stored.stream_type == RECONCILIATION_STREAM:
            break_at[stored.stream_id] = stored.position
            if stored.event_type == "PositionAdjusted":  # it moves the position, as a fill does
                position_at[stored.account, stored.payload["symbol"]] = stored.position
    for message, row in zip(order_messages, order_rows(order_states), strict=True):
        message["order"] = row
    for message, row in zip(fill_messages, FillSerializer(fills, many=True).data, strict=True):
        message["fill"] = row
    out += _position_messages(position_at) + _kill_switch_messages(switch_at) + _break_messages(break_at)
    states.forget_finished()
    out.sort(key=lambda o: o.message["position"])
    return out


def _position_messages(position_at: dict[tuple[str, str], int]) -> list[Outgoing]:
    if not position_at:
        return []
    wanted = Q()
    for account, symbol in position_at:
        wanted |= Q(account_id=account, symbol=symbol)
    rows = list(Position.objects.filter(wanted))
    return [
        Outgoing(p.account_id, {"type": "position", "position": position_at[p.account_id, p.symbol], "row": row})
        for p, row in zip(rows, PositionSerializer(rows, many=True).data, strict=True)
    ]


def _kill_switch_messages(switch_at: dict[tuple[str, str], int]) -> list[Outgoing]:
    if not switch_at:
        return []
    wanted = Q()
    for scope, target in switch_at:
        wanted |= Q(scope=scope, target=target)
    rows = list(KillSwitch.objects.filter(wanted))
    return [
        Outgoing(
            s.target if s.scope == Scope.ACCOUNT else None,
            {"type": "kill_switch", "position": switch_at[s.scope, s.target], "switch": row},
            trader=s.target if s.scope == Scope.TRADER else None,
        )
        for s, row in zip(rows, KillSwitchSerializer(rows, many=True).data, strict=True)
    ]


def _break_messages(break_at: dict[int, int]) -> list[Outgoing]:
    """A break's row after the batch, for those who see every account (risk, compliance)."""
    if not break_at:
        return []
    rows = list(ReconciliationBreak.objects.filter(id__in=list(break_at)))
    return [
        Outgoing(None, {"type": "break", "position": break_at[b.id], "break": row}, oversight=True)
        for b, row in zip(rows, BreakSerializer(rows, many=True).data, strict=True)
    ]
