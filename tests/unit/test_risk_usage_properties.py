"""`RiskUsage` updated order event by order event always equals the usage recomputed from the
orders' latest states, and the figures a person would work out from the fills and open orders.

The orders are real: commands go through `decide`, parents through `parents.route`, `cancel`,
`replace` and `roll_up`, and every event through `fold.apply`, as the engine does; each folded
event is handed to `RiskUsage.update(before, after, valued_at)` as the engine will hand it.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from order_driver import PROPERTY_SETTINGS, START_NS

from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain import parents
from orders.domain.decide import decide
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.domain.values import ExecType, OrderType, RequestKind, Side, Strategy, TimeInForce
from risk.domain import Denial, Exposure, RiskUsage, recompute
from risk.domain.usage import average_cost

D = Decimal
ZERO = D(0)
ACCOUNTS = ("ACC-1", "ACC-2")
SYMBOLS = ("AAA", "BBB")
VENUES = ("SIMA", "SIMB")
MARGIN = {"AAA": D("0.5"), "BBB": D("0.25")}

accounts = st.sampled_from(ACCOUNTS)
symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from([Side.BUY, Side.SELL, Side.SELL_SHORT])
lots = st.integers(1, 6).map(lambda n: D(n * 10))
prices = st.sampled_from([D("9.99"), D("10.00"), D("10.01"), D("10.50")])
limit_or_market = st.none() | prices  # None: a market order
picks = st.integers(0, 1_000)


class Book:
    """Several orders of a couple of accounts and symbols, plain and parent, driven as the
    engine drives them, with the risk usage updated for every event folded."""

    def __init__(self) -> None:
        self.orders: dict[int, OrderState] = {}
        self.usage = RiskUsage(MARGIN)
        self.valued_at: dict[int, Decimal] = {}
        self.adjustments: list[tuple[str, str, Decimal, Decimal]] = []  # (account, symbol, quantity, notional)
        self._ids = count(1)
        self._order_ids = count(1)
        self._clock = count(START_NS, 1_000)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def now(self) -> int:
        return next(self._clock)

    def commit(self, events: list[ev.Event]) -> None:
        for event in events:
            before = self.orders.get(event.order_id)
            after = apply(before, event)
            self.orders[event.order_id] = after
            # The valuation goes with the order's acceptance, as the engine has it from the checks.
            valued_at = self.valued_at.get(event.order_id) if before is None else None
            self.usage.update(before, after, valued_at)

    # -- what the checks see, for choosing steps -------------------------------------------------
    def at_venue(self, test) -> list[OrderState]:
        return [o for o in self.orders.values() if not o.is_parent and not o.is_done and test(o)]

    def top_level(self) -> list[OrderState]:
        return [o for o in self.orders.values() if o.parent_id is None and not o.is_done]

    # -- the client ------------------------------------------------------------------------------
    def submit(self, account, symbol, side, quantity, limit_price, valuation, *, strategy=None, denied=False):
        order_id = next(self._order_ids)
        order_type = OrderType.MARKET if limit_price is None else OrderType.LIMIT
        command = cmd.SubmitOrder(self.next_id("cmd"), self.now(), "user:trader", account, self.next_id("C"), symbol,
                                  side, quantity, order_type, TimeInForce.DAY, limit_price,
                                  venue=None if strategy else VENUES[order_id % 2], strategy=strategy)  # fmt: skip
        if order_type is OrderType.MARKET:
            self.valued_at[order_id] = valuation
        denial = Denial("position_limit", "over the limit") if denied else None
        self.commit(decide(None, command, new_order_id=order_id, denial=denial))
        return self.orders[order_id]

    def submit_parent(self, account, symbol, side, sizes, limit_price, valuation):
        parent = self.submit(account, symbol, side, sum(sizes, ZERO), limit_price, valuation, strategy=Strategy.SPLIT)
        children = tuple(ev.RoutedChild(next(self._order_ids), VENUES[i % 2], size) for i, size in enumerate(sizes))
        self.commit(parents.route(parent, ev.OrderRouted(parent.order_id, self.now(), Strategy.SPLIT, children, "")))

    def cancel(self, order: OrderState) -> None:
        command = cmd.CancelOrder(self.next_id("cmd"), self.now(), "user:trader", order.account, order.order_id,
                                  self.next_id("X"), order.cl_ord_id)  # fmt: skip
        events = decide(order, command)
        if order.is_parent and events and isinstance(events[0], ev.OrderCancelRequested):
            events = parents.cancel(order, events[0], self.orders)
        self.commit(events)

    def replace(self, order: OrderState, quantity: Decimal | None, limit_price: Decimal | None) -> None:
        command = cmd.ReplaceOrder(self.next_id("cmd"), self.now(), "user:trader", order.account, order.order_id,
                                   self.next_id("R"), order.cl_ord_id, quantity, limit_price)  # fmt: skip
        events = decide(order, command)
        if order.is_parent and events and isinstance(events[0], ev.OrderReplaceRequested):
            events = parents.replace(order, events[0], self.orders)
        self.commit(events)

    # -- a venue, about an order at it (a plain order or a child) --------------------------------
    def venue_says(self, order: OrderState, command: cmd.ApplyExecutionReport | cmd.ApplyCancelReject) -> None:
        events = decide(order, command)
        if not events:
            return
        rolled: list[ev.Event] = []
        if order.parent_id is not None:
            after = order
            for event in events:
                after = apply(after, event)
            parent = self.orders[order.parent_id]
            rolled = parents.roll_up(parent, after, events, self.orders, command.received_at_ns, before=order)
        self.commit(events + rolled)

    def report(self, order: OrderState, exec_type: ExecType, **fields) -> None:
        command = cmd.ApplyExecutionReport(self.next_id("cmd"), self.now(), f"venue:{order.venue}", order.order_id,
                                           self.next_id("E"), exec_type, **fields)  # fmt: skip
        self.venue_says(order, command)

    def adjust(self, account: str, symbol: str, quantity: Decimal, price: Decimal | None) -> None:
        """A reconciliation break accepted: the position moves by `quantity` (at the position's
        average cost when the venue gave no price)."""
        at = price if price is not None else average_cost(self.usage.symbol(account, symbol))
        self.usage.adjust(account, symbol, quantity, price)
        self.adjustments.append((account, symbol, quantity, quantity * at))

    def refuse(self, order: OrderState) -> None:
        assert order.pending is not None
        command = cmd.ApplyCancelReject(self.next_id("cmd"), self.now(), f"venue:{order.venue}", order.order_id,
                                        order.pending.cl_ord_id, "too_late_to_cancel",
                                        response_to=order.pending.kind)  # fmt: skip
        self.venue_says(order, command)


def pick(orders: list[OrderState], index: int) -> OrderState:
    return orders[index % len(orders)]


def by_hand(book: Book) -> dict[tuple[str, str], Exposure]:
    """Per (account, symbol): the position and notional from the fills booked at the venues
    (plain orders' and children's: a parent's are its children's), and what the orders a client
    sent (plain and parent) have open, a pending replace at its larger size and price."""
    figures: dict[tuple[str, str], list[Decimal]] = {}
    for account, symbol, quantity, notional in book.adjustments:
        row = figures.setdefault((account, symbol), [ZERO] * 6)
        row[0] += quantity
        row[1] += notional
    for order in book.orders.values():
        row = figures.setdefault((order.account, order.symbol), [ZERO] * 6)
        sign = 1 if order.side is Side.BUY else -1
        if not order.is_parent:
            row[0] += sign * sum((qty for _, qty, _ in order.fills), ZERO)
            row[1] += sign * sum((qty * px for _, qty, px in order.fills), ZERO)
        if order.parent_id is not None or order.is_done:
            continue
        quantity, price = order.quantity, order.limit_price
        if order.order_type is OrderType.MARKET:
            price = book.valued_at[order.order_id]
        if order.pending is not None and order.pending.kind is RequestKind.REPLACE:
            quantity = max(quantity, order.pending.quantity or quantity)
            price = max(price, order.pending.limit_price or price)
        open_qty = max(quantity - order.cum_qty, ZERO)
        buying = order.side is Side.BUY
        row[2 if buying else 3] += open_qty
        row[4 if buying else 5] += open_qty * price
    return {key: Exposure(*row) for key, row in figures.items()}


class RiskUsageFollowsTheOrders(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = Book()

    # -- the client ------------------------------------------------------------------------------
    @rule(account=accounts, symbol=symbols, side=sides, quantity=lots, price=limit_or_market, valuation=prices,
          denied=st.booleans())  # fmt: skip
    def submit(self, account, symbol, side, quantity, price, valuation, denied):
        self.book.submit(account, symbol, side, quantity, price, valuation, denied=denied)

    @rule(account=accounts, symbol=symbols, side=sides, sizes=st.lists(lots, min_size=1, max_size=3),
          price=limit_or_market, valuation=prices)  # fmt: skip
    def submit_parent(self, account, symbol, side, sizes, price, valuation):
        self.book.submit_parent(account, symbol, side, sizes, price, valuation)

    @precondition(lambda self: self.book.top_level())
    @rule(index=picks)
    def cancel(self, index):
        self.book.cancel(pick(self.book.top_level(), index))

    @precondition(lambda self: self.book.top_level())
    @rule(index=picks, quantity=st.none() | lots, price=st.none() | prices)
    def replace(self, index, quantity, price):
        order = pick(self.book.top_level(), index)
        if order.order_type is OrderType.MARKET:
            price = None
        self.book.replace(order, quantity, price)

    # -- the venues ------------------------------------------------------------------------------
    @precondition(lambda self: self.book.at_venue(lambda o: not o.acknowledged))
    @rule(index=picks, reject=st.booleans())
    def venue_answers_a_new_order(self, index, reject):
        order = pick(self.book.at_venue(lambda o: not o.acknowledged), index)
        self.book.report(order, ExecType.REJECTED if reject else ExecType.NEW, text="no" if reject else "")

    @precondition(lambda self: self.book.at_venue(lambda o: o.leaves_qty > 0))
    @rule(index=picks, quantity=lots, price=prices)
    def fill(self, index, quantity, price):
        order = pick(self.book.at_venue(lambda o: o.leaves_qty > 0), index)
        self.book.report(order, ExecType.TRADE, last_qty=min(quantity, order.leaves_qty), last_px=price)

    @precondition(lambda self: any(o.fills and not o.is_parent for o in self.book.orders.values()))
    @rule(index=picks)
    def bust(self, index):
        order = pick([o for o in self.book.orders.values() if o.fills and not o.is_parent], index)
        self.book.report(order, ExecType.TRADE_CANCEL, ref_exec_id=order.fills[-1][0])

    @precondition(lambda self: self.book.at_venue(lambda o: True))
    @rule(index=picks)
    def venue_cancels(self, index):
        self.book.report(pick(self.book.at_venue(lambda o: True), index), ExecType.CANCELED)

    @precondition(lambda self: self.book.at_venue(lambda o: o.pending is not None))
    @rule(index=picks, apply_it=st.booleans())
    def venue_answers_a_request(self, index, apply_it):
        order = pick(self.book.at_venue(lambda o: o.pending is not None), index)
        assert order.pending is not None
        if not apply_it:
            self.book.refuse(order)
        elif order.pending.kind is RequestKind.REPLACE:
            self.book.report(order, ExecType.REPLACED, cl_ord_id=order.pending.cl_ord_id)
        else:
            self.book.report(order, ExecType.CANCELED, cl_ord_id=order.pending.cl_ord_id)

    # -- reconciliation ----------------------------------------------------------------------------
    @rule(account=accounts, symbol=symbols, quantity=st.integers(-30, 30).map(D), price=st.none() | prices)
    def a_break_is_accepted(self, account, symbol, quantity, price):
        self.book.adjust(account, symbol, quantity, price)

    # -- the properties --------------------------------------------------------------------------
    @invariant()
    def incremental_usage_equals_the_recomputed_usage(self):
        book = self.book
        assert book.usage == recompute(book.orders.values(), book.valued_at, MARGIN, book.adjustments)

    @invariant()
    def usage_equals_a_hand_recomputation_from_fills_and_open_orders(self):
        usage = self.book.usage
        for (account, symbol), expected in by_hand(self.book).items():
            assert usage.symbol(account, symbol) == expected, (account, symbol)
        for account in ACCOUNTS:
            exposures = [usage.symbol(account, symbol) for symbol in SYMBOLS]
            gross = sum((e.gross_notional for e in exposures), ZERO)
            credit = sum((e.gross_notional * MARGIN[s] for e, s in zip(exposures, SYMBOLS)), ZERO)
            assert (usage.account(account).gross_notional, usage.account(account).credit_used) == (gross, credit)

    @invariant()
    def children_rest_at_venues_and_parents_nowhere(self):
        resting = {
            order_id
            for account in ACCOUNTS
            for symbol in SYMBOLS
            for order_id in self.book.usage.resting(account, symbol)
        }
        assert resting == {o.order_id for o in self.book.orders.values() if not o.is_parent and not o.is_done}


RiskUsageFollowsTheOrders.TestCase.settings = settings(PROPERTY_SETTINGS, stateful_step_count=40)
TestRiskUsageFollowsTheOrders = RiskUsageFollowsTheOrders.TestCase
