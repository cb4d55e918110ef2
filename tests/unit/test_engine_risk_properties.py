"""The engine's risk state after any sequence of commands equals a recomputation from its log.

A real `Engine` is driven in-process, without PostgreSQL or Redis: its reference data (two
accounts with limits, two instruments, venues V1 and V2) and its market inputs (sessions and
books, stamped at the commands' times) are set by hand, and every command goes through
`Engine.handle` as a batch of one: submits (limit, market, parents split or sliced by the
router), the venues' reports as the connector builds them (acks, rejects, fills, busts, status
answers with missed fills, unsolicited cancels, answers to pending cancels and replaces, and the
same report twice), clients' cancels and replaces, kill switches engaged and released, limit
and instrument control changes, a venue going down and quotes moving. `restart` throws the
engine's state away and folds the log back, each event's payload through JSON first, as a real
restart reads it from the database.

After every step:
- the usage the engine keeps event by event equals `recompute` over its orders' latest states,
  market orders valued where their `OrderAccepted` risk records say;
- a state replayed from the log equals the live one: usage, market valuations, kill switches,
  message and duplicate window counts now, orders, ClOrdIDs, traders and positions;
and after each accepted submit (or a replace adding quantity) for an account with a position
limit, what it holds plus what is pending on that side is within the limit.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import count
from typing import Any

import orjson
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from order_driver import PROPERTY_SETTINGS, START_NS

from orders import store
from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.state import OrderState
from orders.domain.values import ExecType, OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce
from orders.engine.decisions import Inputs, Outcome
from orders.engine.loop import Engine
from orders.engine.market import MarketInputs
from orders.engine.reference import ReferenceData
from orders.engine.state import EngineState
from orders.models import Instrument
from risk import configuration
from risk.domain import AccountLimits, InstrumentRules, Limits, RiskPolicy, recompute

D = Decimal
ZERO = D(0)
MS = 1_000_000
ACCOUNTS = ("ACC-1", "ACC-2")
SYMBOLS = ("AAA", "BBB")
VENUES = ("V1", "V2")
ZONE = "UTC"
MIDS = {"AAA": D("10.00"), "BBB": D("20.00")}
POLICY = RiskPolicy(duplicate_max=3, duplicate_window_ns=1_000 * MS)

accounts = st.sampled_from(ACCOUNTS)
symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from([Side.BUY, Side.BUY, Side.SELL, Side.SELL_SHORT])
lots = st.integers(1, 6).map(lambda n: D(n * 10))
# Offsets from the symbol's mid, in ticks: within the price band, and a few far outside it.
offsets = st.sampled_from([-20, -5, -1, 0, 1, 5, 20, 300])
actors = st.sampled_from(["user:alice", "user:bob", "fix:CLIENT1"])
picks = st.integers(0, 1_000)


def reference_data() -> ReferenceData:
    rows = [
        Instrument(symbol="AAA", tick_size=D("0.01"), lot_size=D("10"), asset_class="equity"),
        Instrument(symbol="BBB", tick_size=D("0.01"), lot_size=D("10"), asset_class="etf", price_band_pct=D("8")),
    ]
    reference = ReferenceData()
    reference.instruments = {i.symbol: InstrumentRules(i.symbol, i.tick_size, i.lot_size) for i in rows}
    reference.instrument_risk = {i.symbol: configuration.instrument_risk(i) for i in rows}
    reference.instrument_controls = {
        i.symbol: {"price_band_pct": i.price_band_pct, "max_reference_age_s": i.max_reference_age_s,
                   "restricted": i.restricted, "asset_class": i.asset_class}
        for i in rows
    }  # fmt: skip
    reference.limits = {
        "ACC-1": AccountLimits(
            "ACC-1",
            Limits(max_position_qty=D(100), max_messages_per_second=D(12)),
            {"BBB": Limits(max_position_qty=D(60))},
        ),
        "ACC-2": AccountLimits("ACC-2", Limits(max_order_qty=D(50), max_gross_notional=D(2000), credit_limit=D(400))),
    }
    reference.policy = POLICY
    reference.accounts = reference.active_accounts = set(ACCOUNTS)
    reference.venues = reference.all_venues = set(VENUES)
    reference.default_venue = "V1"
    return reference


def row_of(stored: store.StoredEvent) -> tuple:
    """The event as `store.append` writes it: the payload as JSON text."""
    return (
        stored.position, stored.stream_type, stored.stream_id, stored.stream_version, stored.event_type,
        stored.schema_version, orjson.dumps(stored.payload).decode(), stored.account, stored.occurred_at_ns,
        stored.recorded_at_ns, stored.actor, stored.command_id,
    )  # fmt: skip


class EngineRiskFollowsTheLog(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine()  # its Redis client connects only when used: never, here
        self.engine.zone = ZONE
        self.engine.reference = reference_data()
        self.engine.market = MarketInputs()
        self.engine.state = self.engine._empty_state()  # as `recover` sets it up, with the reference data
        self.rows: list[tuple] = []  # the log, as the database holds it
        self.valued_at: dict[int, Decimal] = {}  # from the OrderAccepted risk records
        self.duplicate_keys: set[tuple] = set()
        self.reports: list[cmd.ApplyExecutionReport] = []
        self.submits: list[cmd.SubmitOrder] = []
        self.sessions = {venue: True for venue in VENUES}
        self.mids = dict(MIDS)
        self.now = START_NS
        self._ids = count(1)
        self.refresh_market()

    # -- plumbing --------------------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def refresh_market(self) -> None:
        """The connectors' word on each session, and each venue's book, as of now."""
        for venue in VENUES:
            up = self.sessions[venue]
            self.engine.market.apply("session", {"venue": venue, "state": "logged_on" if up else "logged_out",
                                                 "detail": "" if up else "logged out", "at_ns": self.now})  # fmt: skip
        for symbol, mid in self.mids.items():
            for i, venue in enumerate(VENUES):
                spread = D("0.05") - D("0.01") * i
                self.engine.market.apply("book", {
                    "venue": venue, "symbol": symbol,
                    "bids": [[str(mid - spread), "30"], [str(mid - 2 * spread), "50"]],
                    "asks": [[str(mid + spread), "20"], [str(mid + 2 * spread), "40"]],
                    "last": str(mid), "at_ns": self.now,
                })  # fmt: skip

    def send(self, command: cmd.Command) -> Outcome:
        """One command, as a batch of one: decided, folded and staged; the staged events go to the log."""
        staged: list[store.StoredEvent] = []
        inputs = Inputs(self.engine.reference, self.engine.market, self.now, ZONE)
        outcome = self.engine.handle(command, inputs, staged)
        for stored in staged:
            event = stored.event
            if isinstance(event, ev.OrderAccepted) and event.parent_id is None:
                if event.risk is not None and event.risk.valued_at is not None:
                    self.valued_at[event.order_id] = event.risk.valued_at
                self.duplicate_keys.add((event.account, event.symbol, event.side, event.quantity, event.limit_price))
            self.rows.append(row_of(stored))
        if isinstance(command, cmd.ApplyExecutionReport):
            self.reports.append(command)
        elif isinstance(command, cmd.SubmitOrder):
            self.submits.append(command)
        self.now += 37 * MS
        self.refresh_market()
        return outcome

    def replay(self) -> EngineState:
        """A fresh state from the log, each payload decoded from its JSON, as `Engine.recover` does."""
        state = self.engine._empty_state()
        for row in self.rows:
            state.fold(store.StoredEvent.from_row(row), ZONE)
        return state

    @property
    def orders(self) -> dict[int, OrderState]:
        return self.engine.state.orders

    def top_level(self) -> list[OrderState]:
        return [o for o in self.orders.values() if o.parent_id is None and not o.is_done]

    def at_venue(self, test=lambda o: True) -> list[OrderState]:
        return [o for o in self.orders.values() if not o.is_parent and not o.is_done and test(o)]

    def assert_within_position_limit(self, account: str, symbol: str, side: Side) -> None:
        limit = self.engine.reference.limits_for(account, symbol).max_position_qty
        if limit is None:
            return
        exposure = self.engine.state.usage.symbol(account, symbol)
        if side is Side.BUY:
            assert exposure.position + exposure.pending_buy <= limit, (account, symbol, exposure, limit)
        else:
            assert -exposure.position + exposure.pending_sell <= limit, (account, symbol, exposure, limit)

    def price(self, symbol: str, offset: int) -> Decimal:
        return self.mids[symbol] + D("0.01") * offset

    # -- the clients -----------------------------------------------------------------------------
    @rule(account=accounts, symbol=symbols, side=sides, quantity=lots, offset=st.none() | offsets,
          venue=st.sampled_from([None, *VENUES]), actor=actors)  # fmt: skip
    def submit(self, account, symbol, side, quantity, offset, venue, actor):
        limit_price = None if offset is None else self.price(symbol, offset)
        order_type = OrderType.MARKET if limit_price is None else OrderType.LIMIT
        command = cmd.SubmitOrder(self.next_id("cmd"), self.now, actor, account, self.next_id("C"), symbol, side,
                                  quantity, order_type, TimeInForce.DAY, limit_price, venue=venue)  # fmt: skip
        if self.send(command).outcome == "accepted":
            self.assert_within_position_limit(account, symbol, side)

    @rule(account=accounts, symbol=symbols, side=sides, quantity=st.integers(2, 8).map(lambda n: D(n * 10)),
          offset=st.none() | offsets, strategy=st.sampled_from([Strategy.SPLIT, Strategy.SLICES]),
          actor=actors)  # fmt: skip
    def submit_parent(self, account, symbol, side, quantity, offset, strategy, actor):
        limit_price = None if offset is None else self.price(symbol, offset)
        order_type = OrderType.MARKET if limit_price is None else OrderType.LIMIT
        command = cmd.SubmitOrder(self.next_id("cmd"), self.now, actor, account, self.next_id("P"), symbol, side,
                                  quantity, order_type, TimeInForce.DAY, limit_price, strategy=strategy,
                                  slices=2 if strategy is Strategy.SLICES else None)  # fmt: skip
        if self.send(command).outcome == "accepted":
            self.assert_within_position_limit(account, symbol, side)

    @precondition(lambda self: self.submits)
    @rule(index=picks, times=st.integers(1, 4))
    def submit_again(self, index, times):
        """A stuck client sends the same order again under new ClOrdIDs: the duplicate check's case."""
        again = self.submits[-1 - index % min(len(self.submits), 3)]
        for _ in range(times):
            command = cmd.SubmitOrder(**{
                **{f: getattr(again, f) for f in again.__slots__},  # type: ignore[attr-defined]
                "command_id": self.next_id("cmd"), "received_at_ns": self.now, "cl_ord_id": self.next_id("C"),
            })  # fmt: skip
            if self.send(command).outcome == "accepted":
                self.assert_within_position_limit(command.account, command.symbol, command.side)

    @precondition(lambda self: self.top_level())
    @rule(index=picks, actor=actors, a_child=st.integers(0, 4).map(lambda n: n == 0))
    def cancel(self, index, actor, a_child):
        """A client cancels an order; now and then a child, which is refused: it works for its parent."""
        children = [o for o in self.orders.values() if o.parent_id is not None and not o.is_done]
        if a_child and children:
            child = children[index % len(children)]
            outcome = self.send(cmd.CancelOrder(self.next_id("cmd"), self.now, actor, child.account, child.order_id,
                                                self.next_id("X"), child.cl_ord_id))  # fmt: skip
            assert outcome.reason == "child_order"
            return
        order = self.top_level()[index % len(self.top_level())]
        self.send(cmd.CancelOrder(self.next_id("cmd"), self.now, actor, order.account, order.order_id,
                                  self.next_id("X"), order.cl_ord_id))  # fmt: skip

    @precondition(lambda self: self.top_level())
    @rule(index=picks, quantity=st.none() | lots, offset=st.none() | offsets, actor=actors)
    def replace(self, index, quantity, offset, actor):
        order = self.top_level()[index % len(self.top_level())]
        market = order.order_type is OrderType.MARKET
        limit_price = None if offset is None or market else self.price(order.symbol, offset)
        if quantity is not None:
            quantity += order.cum_qty  # a new total, fills included
        elif limit_price is None and index % 4:
            quantity = order.quantity + 10  # mostly something to replace
        outcome = self.send(cmd.ReplaceOrder(self.next_id("cmd"), self.now, actor, order.account, order.order_id,
                                             self.next_id("R"), order.cl_ord_id, quantity, limit_price))  # fmt: skip
        if outcome.outcome == "accepted" and quantity is not None and quantity > order.quantity:
            self.assert_within_position_limit(order.account, order.symbol, order.side)

    # -- the venues, about an order at them (a plain order or a child) --------------------------------
    def report(self, order: OrderState, exec_type: ExecType, **fields: Any) -> None:
        venue = order.venue or "V1"
        exec_id = self.next_id("E")
        self.send(cmd.ApplyExecutionReport(f"{venue}:{exec_id}:{self.now}", self.now, f"venue:{venue}",
                                           order.order_id, f"{venue}:{exec_id}", exec_type,
                                           venue_order_id=f"VO{order.order_id}", **fields))  # fmt: skip

    @precondition(lambda self: self.at_venue(lambda o: not o.acknowledged))
    @rule(index=picks, reject=st.booleans())
    def venue_answers_a_new_order(self, index, reject):
        candidates = self.at_venue(lambda o: not o.acknowledged)
        order = candidates[index % len(candidates)]
        if reject:
            self.report(order, ExecType.REJECTED, text="unknown symbol at venue", ord_status=OrdStatus.REJECTED)
        else:
            self.report(order, ExecType.NEW, cl_ord_id=order.cl_ord_id, ord_status=OrdStatus.NEW, cum_qty=ZERO)

    @precondition(lambda self: self.at_venue(lambda o: o.leaves_qty > 0))
    @rule(index=picks, quantity=lots, offset=offsets)
    def fill(self, index, quantity, offset):
        candidates = self.at_venue(lambda o: o.leaves_qty > 0)
        order = candidates[index % len(candidates)]
        last_qty = min(quantity, order.leaves_qty)
        cum_qty = order.cum_qty + last_qty
        status = OrdStatus.FILLED if cum_qty == order.quantity else OrdStatus.PARTIALLY_FILLED
        self.report(order, ExecType.TRADE, last_qty=last_qty, last_px=self.price(order.symbol, offset),
                    cl_ord_id=order.cl_ord_id, cum_qty=cum_qty, ord_status=status)  # fmt: skip

    @precondition(lambda self: any(o.fills and not o.is_parent for o in self.orders.values()))
    @rule(index=picks, ended=st.booleans())
    def bust(self, index, ended):
        candidates = [o for o in self.orders.values() if o.fills and not o.is_parent]
        order = candidates[index % len(candidates)]
        exec_id, last_qty, _ = order.fills[-1]
        status = OrdStatus.CANCELED if ended else None
        self.report(order, ExecType.TRADE_CANCEL, ref_exec_id=exec_id, cl_ord_id=order.cl_ord_id,
                    cum_qty=order.cum_qty - last_qty, ord_status=status)  # fmt: skip

    @precondition(lambda self: self.at_venue(lambda o: o.leaves_qty > 0 and o.pending is None))
    @rule(index=picks, quantity=lots)
    def status_answer_with_a_missed_fill(self, index, quantity):
        """150=I: the venue has more filled than the OMS booked (a report was lost)."""
        candidates = self.at_venue(lambda o: o.leaves_qty > 0 and o.pending is None)
        order = candidates[index % len(candidates)]
        cum_qty = order.cum_qty + min(quantity, order.leaves_qty)
        status = OrdStatus.FILLED if cum_qty == order.quantity else OrdStatus.PARTIALLY_FILLED
        self.report(order, ExecType.ORDER_STATUS, cl_ord_id=order.cl_ord_id, cum_qty=cum_qty,
                    avg_px=self.mids[order.symbol], ord_status=status, quantity=order.quantity,
                    limit_price=order.limit_price, asked_after=order.cl_ord_id)  # fmt: skip

    @precondition(lambda self: self.at_venue())
    @rule(index=picks, expire=st.booleans())
    def venue_ends_an_order(self, index, expire):
        """Unasked: a child's parent re-routes what it no longer works."""
        order = self.at_venue()[index % len(self.at_venue())]
        if expire:
            self.report(order, ExecType.EXPIRED, cl_ord_id=order.cl_ord_id, ord_status=OrdStatus.EXPIRED)
        else:
            self.report(order, ExecType.CANCELED, cl_ord_id=order.cl_ord_id, ord_status=OrdStatus.CANCELED)

    @precondition(lambda self: self.at_venue(lambda o: o.pending is not None))
    @rule(index=picks, apply_it=st.booleans())
    def venue_answers_a_request(self, index, apply_it):
        candidates = self.at_venue(lambda o: o.pending is not None)
        order = candidates[index % len(candidates)]
        pending = order.pending
        assert pending is not None
        venue = order.venue or "V1"
        if not apply_it:
            self.send(cmd.ApplyCancelReject(f"{venue}:9:{self.now}", self.now, f"venue:{venue}", order.order_id,
                                            pending.cl_ord_id, "too_late_to_cancel", "venue says no",
                                            response_to=pending.kind))  # fmt: skip
        elif pending.kind is RequestKind.REPLACE:
            self.report(order, ExecType.REPLACED, cl_ord_id=pending.cl_ord_id, quantity=pending.quantity,
                        limit_price=pending.limit_price, cum_qty=order.cum_qty)  # fmt: skip
        else:
            self.report(order, ExecType.CANCELED, cl_ord_id=pending.cl_ord_id, cum_qty=order.cum_qty,
                        ord_status=OrdStatus.CANCELED)  # fmt: skip

    @precondition(lambda self: self.at_venue(lambda o: o.pending is not None and o.pending.kind is RequestKind.REPLACE))
    @rule(index=picks)
    def venue_applies_a_replace(self, index):
        candidates = self.at_venue(lambda o: o.pending is not None and o.pending.kind is RequestKind.REPLACE)
        order = candidates[index % len(candidates)]
        assert order.pending is not None
        self.report(order, ExecType.REPLACED, cl_ord_id=order.pending.cl_ord_id, quantity=order.pending.quantity,
                    limit_price=order.pending.limit_price, cum_qty=order.cum_qty)  # fmt: skip

    @precondition(lambda self: self.reports)
    @rule(index=picks)
    def venue_sends_a_report_again(self, index):
        """After a reconnect the venue resends: the same ExecID, booked once."""
        again = self.reports[index % len(self.reports)]
        self.send(cmd.ApplyExecutionReport(**{
            **{f: getattr(again, f) for f in again.__slots__},  # type: ignore[attr-defined]
            "command_id": self.next_id("again"), "received_at_ns": self.now,
        }))  # fmt: skip

    # -- risk controls, the market, time -------------------------------------------------------
    @rule(what=st.sampled_from(["kill_switch", "limits", "restrict"]), index=picks,
          change=st.sampled_from([("max_position_qty", "40"), ("max_position_qty", "100"), ("max_position_qty", None),
                                  ("max_gross_notional", "1500"), ("credit_limit", None),
                                  ("max_messages_per_second", "4")]))  # fmt: skip
    def risk_control(self, what, index, change):
        """A person at the risk desk: a kill switch (released more often than engaged, so flow goes
        on), a limit of an account or of one of its symbols, an instrument (un)restricted."""
        state = self.engine.state
        if what == "kill_switch":
            engaged = state.kill_switches.engaged()
            if engaged and index % 3:
                switch = engaged[index % len(engaged)]
                self.send(cmd.ReleaseKillSwitch(self.next_id("cmd"), self.now, "user:risk", switch.scope.value,
                                                switch.target, "released"))  # fmt: skip
                return
            scope, target = [("firm", None), ("account", "ACC-1"), ("account", "ACC-2"), ("trader", "alice"),
                             ("venue", "V1"), ("venue", "V2")][index % 6]  # fmt: skip
            self.send(cmd.EngageKillSwitch(self.next_id("cmd"), self.now, "user:risk", scope, target, "halt"))
        elif what == "limits":
            account = ACCOUNTS[index % 2]
            symbol = (None, *SYMBOLS)[index % 3]
            self.send(cmd.ChangeRiskLimits(self.next_id("cmd"), self.now, "user:risk", account, symbol, (change,),
                                           "test"))  # fmt: skip
        else:
            symbol = SYMBOLS[index % 2]
            restricted = not self.engine.reference.instrument_risk[symbol].restricted and index % 4 == 0
            change = ("restricted", "true" if restricted else "false")
            self.send(cmd.ChangeInstrumentRisk(self.next_id("cmd"), self.now, "user:risk", symbol, (change,), "test"))

    @rule(what=st.sampled_from(["session", "requote", "time"]), index=picks, ticks=st.integers(-30, 30),
          ms=st.sampled_from([200, 700, 1_000, 2_500]))  # fmt: skip
    def market_moves(self, what, index, ticks, ms):
        """A venue's session goes down or comes back; a quote moves; time passes (the windows slide)."""
        if what == "session":
            venue = VENUES[index % 2]
            self.sessions[venue] = not self.sessions[venue] if self.sessions[venue] else True
        elif what == "requote":
            symbol = SYMBOLS[index % 2]
            self.mids[symbol] = MIDS[symbol] + D("0.01") * ticks
        else:
            self.now += ms * MS
        self.refresh_market()

    @rule()
    def restart(self):
        """The engine stops and starts again: its state is what the log folds back to."""
        self.engine.state = self.replay()

    # -- the properties --------------------------------------------------------------------------
    @invariant()
    def usage_equals_a_recomputation_from_the_orders(self):
        state = self.engine.state
        expected = recompute(state.orders.values(), self.valued_at, self.engine.reference.margin_rates())
        assert state.usage == expected

    @invariant()
    def a_replay_of_the_log_equals_the_live_state(self):
        live, replayed = self.engine.state, self.replay()
        assert replayed.orders == live.orders
        assert replayed.usage == live.usage
        market = [o for o in live.orders if live.orders[o].order_type is OrderType.MARKET]
        assert {o: replayed.usage.valued_at(o) for o in market} == {o: live.usage.valued_at(o) for o in market}
        assert set(replayed.kill_switches.engaged()) == set(live.kill_switches.engaged())
        for account in ACCOUNTS:
            assert replayed.messages.count(account, self.now) == live.messages.count(account, self.now), account
        for key in self.duplicate_keys:
            assert replayed.duplicates.count(*key, self.now) == live.duplicates.count(*key, self.now), key
        assert replayed.cl_ord_ids == live.cl_ord_ids
        assert replayed.traders == live.traders
        assert (replayed.last_position, replayed.last_order_id, replayed.risk_version) == (
            live.last_position, live.last_order_id, live.risk_version
        )  # fmt: skip


EngineRiskFollowsTheLog.TestCase.settings = settings(PROPERTY_SETTINGS, stateful_step_count=30)
TestEngineRiskFollowsTheLog = EngineRiskFollowsTheLog.TestCase
