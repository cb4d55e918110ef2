"""Pre-trade risk: the limits, the price band and the kill switch, after the sanity gate.

Each check is `(ticket, ctx) -> Denial | None`. `run_checks` runs them in THIS order and
answers the first denial, so when two would fail the earlier one is reported:

    kill_switch -> restricted_instrument -> price_band (stale_reference, no_reference) ->
    max_order_qty -> max_order_notional -> position_limit -> gross_notional_limit ->
    credit_limit -> rate_limit -> duplicate_order -> self_trade

(the reasons that need no figures first, then the order alone, then the order against what
the account holds, then its message flow). A submit goes through all of them; a replace that
adds risk through all but `duplicate_order` (it is not a new order), checked on what it adds;
a cancel, and a replace that only reduces (no larger quantity, a price no more aggressive, no
notional added), only through `rate_limit`: taking risk off must always be possible, kill switch
or not.

A denial's `text` names the limit and the figures, for the trader; its `details` carry the
inputs the check saw, as plain decimal strings, for the audit. Everything is Decimal and exact:
a figure at its limit passes, one tick or lot past it fails. The engine gathers the context
(`RiskContext`) from `RiskUsage`, the windows, the kill switches and the reference data; nothing
here reads a store or a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from orders.domain.commands import SubmitOrder
from orders.domain.state import OrderState
from orders.domain.values import OrderType, Side

from .checks import Denial
from .kill_switch import Switch, trader_of
from .limits import DEFAULT_POLICY, HUNDRED, InstrumentRisk, Limits, RiskPolicy
from .reference import Reference, far_touch
from .usage import AccountUsage, Exposure, RestingOrder

ZERO = Decimal(0)
NS_PER_MS = 1_000_000
PCT_QUANTUM = Decimal("0.01")


class RiskReason(StrEnum):
    """`reject_reason` of an order the checks deny (CONTRACT.md, "Risk and kill switch")."""

    KILL_SWITCH = "kill_switch"
    RESTRICTED_INSTRUMENT = "restricted_instrument"
    PRICE_BAND = "price_band"
    STALE_REFERENCE = "stale_reference"
    NO_REFERENCE = "no_reference"
    MAX_ORDER_QTY = "max_order_qty"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    POSITION_LIMIT = "position_limit"
    GROSS_NOTIONAL_LIMIT = "gross_notional_limit"
    CREDIT_LIMIT = "credit_limit"
    RATE_LIMIT = "rate_limit"
    DUPLICATE_ORDER = "duplicate_order"
    SELF_TRADE = "self_trade"


class TicketKind(StrEnum):
    SUBMIT = "submit"
    REPLACE = "replace"
    CANCEL = "cancel"


# The ticket, the context and the record are built per order on the critical path: NamedTuples,
# immutable like a frozen dataclass but built in a quarter of the time.
class RiskTicket(NamedTuple):
    """What the checks look at: an order, or what a replace or a cancel adds to one."""

    account: str
    trader: str | None  # the username behind the request; None for a FIX session or the system
    symbol: str
    side: Side
    quantity: Decimal  # what it adds to the position: all of it for a submit, the increase for a replace
    order_type: OrderType
    limit_price: Decimal | None  # the (new) price; None for a market order
    venue: str | None  # None: a parent order, whose children may go to any venue
    kind: TicketKind = TicketKind.SUBMIT
    # A replace: its new 38 OrderQty, which the per-order limits hold it to (not only the increase:
    # replacing 4,000 by 6,000 under a 5,000 maximum makes a 6,000 order). None: `quantity`.
    order_quantity: Decimal | None = None
    # What it adds to the account's notional, worked out once by `submit_ticket` (quantity x limit
    # price) and `replace_ticket` (a higher price values what is open higher). None: `quantity`
    # at the valuation price, which for a market order depends on the quote.
    added_notional: Decimal | None = None
    adds_risk: bool = True  # False: a replace that only reduces; rate limit only


class RiskContext(NamedTuple):
    """What the checks measure a ticket against, gathered by the engine for the ticket's
    account and symbol at `now_ns` (the command's received_at_ns)."""

    limits: Limits  # the account's, with the symbol's overrides (`AccountLimits.for_symbol`)
    instrument: InstrumentRisk
    reference: Reference
    now_ns: int
    exposure: Exposure  # RiskUsage.symbol(account, symbol)
    account_usage: AccountUsage  # RiskUsage.account(account)
    margin_rate: Decimal  # the symbol's, as RiskUsage values its credit
    messages_in_window: int  # MessageWindow.count(account, now_ns): not counting this one
    identical_recent: int  # DuplicateWindow.count(...): accepted identical orders, not counting this one
    # RiskUsage.own_resting(account, symbol, side, excluding=...): the other side's resting orders;
    # for a replace, without the order itself and its children.
    own_resting: Collection[RestingOrder]
    kill_switch: Switch | None  # KillSwitches.halting(account, trader, venue)
    policy: RiskPolicy = DEFAULT_POLICY


class AcceptedRecord(NamedTuple):
    """What an accepted order records of the checks: the reference it was measured against and
    the price it is valued at (for a market order, what `RiskUsage.update` needs as `valued_at`)."""

    reference_price: Decimal | None
    reference_age_ms: int | None
    valued_at: Decimal | None


Check = Callable[[RiskTicket, RiskContext], Denial | None]


def _plain(value: Decimal | int) -> str:
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def _side_word(side: Side) -> str:
    return "buy" if side is Side.BUY else "sell"


def valuation_price(ticket: RiskTicket, ctx: RiskContext) -> Decimal | None:
    """The price the order is valued at: its limit, or for a market order the far touch moved
    by the collar against it (a buy up, a sell down). None: no far touch to value it at."""
    if ticket.order_type is OrderType.LIMIT:
        return ticket.limit_price
    touch = far_touch(ticket.side, ctx.reference)
    if touch is None:
        return None
    return touch * (ctx.instrument.buy_collar if ticket.side is Side.BUY else ctx.instrument.sell_collar)


def added_notional(ticket: RiskTicket, ctx: RiskContext) -> Decimal | None:
    """What the order adds to the account's notional: `ticket.added_notional` when the ticket
    carries it (`submit_ticket` and `replace_ticket` of a limit order work it out once), else the
    quantity at the valuation price. None: a market order with no far touch."""
    adds = ticket.added_notional
    if adds is not None:
        return adds
    price = valuation_price(ticket, ctx)
    return None if price is None else ticket.quantity * price


# -- the checks, in order --------------------------------------------------------------------
def check_kill_switch(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    switch = ctx.kill_switch
    if switch is None:
        return None
    where = "the firm" if switch.target is None else f"{switch.scope.value} {switch.target}"
    return Denial(
        RiskReason.KILL_SWITCH,
        f"kill switch on {where}, engaged by {switch.engaged_by}: {switch.reason}",
        (("scope", switch.scope.value), ("target", switch.target or ""), ("engaged_by", switch.engaged_by),
         ("engaged_at_ns", str(switch.at_ns))),
    )  # fmt: skip


def check_restricted_instrument(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    if not ctx.instrument.restricted:
        return None
    return Denial(
        RiskReason.RESTRICTED_INSTRUMENT, f"{ticket.symbol} is restricted: no new risk", (("symbol", ticket.symbol),)
    )


def check_price_band(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    """A limit price, or a market order's far touch, at most `price_band_pct` away from a fresh
    reference. Exactly at the band's edge passes."""
    reference = ctx.reference
    ref = reference.price
    if ref is None:
        return Denial(
            RiskReason.NO_REFERENCE,
            f"no reference price for {ticket.symbol}: no two-sided quote and no last trade",
            (("reference_source", reference.source),),
        )
    instrument = ctx.instrument
    age_ns = reference.age_ns(ctx.now_ns)
    if age_ns is None or age_ns > instrument.max_reference_age_ns:
        age_ms = "unknown" if age_ns is None else _plain(age_ns // NS_PER_MS)
        return Denial(
            RiskReason.STALE_REFERENCE,
            f"stale reference for {ticket.symbol}: {reference.source} {ref:f} is {age_ms} ms old, "
            f"over the {instrument.max_reference_age_s:f} s allowed",
            (("max_reference_age_s", _plain(instrument.max_reference_age_s)), ("reference_price", _plain(ref)),
             ("reference_age_ms", age_ms), ("reference_source", reference.source)),
        )  # fmt: skip
    if ticket.order_type is OrderType.LIMIT:
        price, what = ticket.limit_price, "limit price"
        if price is None:
            return None  # the sanity gate refuses a limit order without a price
    else:
        price, what = far_touch(ticket.side, reference), "far touch"
        if price is None:
            touch = "ask" if ticket.side is Side.BUY else "bid"
            return Denial(
                RiskReason.NO_REFERENCE,
                f"no {touch} in {ticket.symbol} to value a market {_side_word(ticket.side)} at",
                (("reference_source", reference.source), ("reference_price", _plain(ref))),
            )
    # |price - ref| / ref * 100 <= band, as |price - ref| <= ref * band / 100: no division, exact at the edge.
    if abs(price - ref) <= ref * instrument.price_band_fraction:
        return None
    band = instrument.price_band_pct
    away = (abs(price - ref) * HUNDRED / ref).quantize(PCT_QUANTUM)
    return Denial(
        RiskReason.PRICE_BAND,
        f"price band {band:f}% for {ticket.symbol}: {what} {price:f} is {away:f}% away from the reference "
        f"{ref:f} ({reference.source})",
        (("limit", _plain(band)), ("price", _plain(price)), ("reference_price", _plain(ref)),
         ("reference_age_ms", _plain(age_ns // NS_PER_MS))),
    )  # fmt: skip


def check_max_order_qty(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    limit = ctx.limits.max_order_qty
    if limit is None:
        return None
    quantity = ticket.quantity if ticket.order_quantity is None else ticket.order_quantity
    if quantity <= limit:
        return None
    return Denial(
        RiskReason.MAX_ORDER_QTY,
        f"max order quantity {limit:f} for {ticket.account}: this order {quantity:f}",
        (("limit", _plain(limit)), ("order_qty", _plain(quantity))),
    )


def check_max_order_notional(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    limit = ctx.limits.max_order_notional
    if limit is None:
        return None
    price = ticket.limit_price if ticket.order_type is OrderType.LIMIT else valuation_price(ticket, ctx)
    if price is None:
        return None  # a market order with no far touch: the price band check has refused it
    quantity = ticket.quantity if ticket.order_quantity is None else ticket.order_quantity
    notional = quantity * price
    if notional <= limit:
        return None
    return Denial(
        RiskReason.MAX_ORDER_NOTIONAL,
        f"max order notional {limit:f} for {ticket.account}: this order {quantity:f} x {price:f} = {notional:f}",
        (("limit", _plain(limit)), ("order_qty", _plain(quantity)), ("valued_at", _plain(price)),
         ("order_notional", _plain(notional))),
    )  # fmt: skip


def check_position_limit(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    """The position the order could make if it and every pending order on its side filled,
    long for a buy, short for a sell, within `max_position_qty`."""
    limit = ctx.limits.max_position_qty
    adds = ticket.quantity
    if limit is None or not adds:
        return None
    exposure = ctx.exposure
    if ticket.side is Side.BUY:
        held, pending = exposure.position, exposure.pending_buy
    else:
        held, pending = -exposure.position, exposure.pending_sell
    total = held + pending + adds
    if total <= limit:
        return None
    if ticket.side is Side.BUY:
        text = f"position {exposure.position:f} + pending buys {pending:f}"
        pending_name = "pending_buy"
    else:
        text = f"short {held:f} + pending sells {pending:f}"
        pending_name = "pending_sell"
    return Denial(
        RiskReason.POSITION_LIMIT,
        f"position limit {limit:f} {ticket.symbol} for {ticket.account}: {text} + this order {adds:f} = {total:f}",
        (("limit", _plain(limit)), ("position", _plain(exposure.position)), (pending_name, _plain(pending)),
         ("order_adds", _plain(adds)), ("available", _plain(limit - held - pending))),
    )  # fmt: skip


def check_gross_notional_limit(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    limit = ctx.limits.max_gross_notional
    if limit is None:
        return None
    adds = ticket.added_notional
    if adds is None:
        adds = added_notional(ticket, ctx)
    if not adds:
        return None  # adds nothing, or a market order with no far touch (refused by the price band)
    gross = ctx.account_usage.gross_notional
    total = gross + adds
    if total <= limit:
        return None
    return Denial(
        RiskReason.GROSS_NOTIONAL_LIMIT,
        f"gross notional limit {limit:f} for {ticket.account}: gross {gross:f} + this order {adds:f} = {total:f}",
        (("limit", _plain(limit)), ("gross_notional", _plain(gross)), ("order_notional", _plain(adds)),
         ("available", _plain(limit - gross))),
    )  # fmt: skip


def check_credit_limit(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    limit = ctx.limits.credit_limit
    if limit is None:
        return None
    adds = ticket.added_notional
    if adds is None:
        adds = added_notional(ticket, ctx)
    if not adds:
        return None
    used = ctx.account_usage.credit_used
    rate = ctx.margin_rate
    margin = adds * rate
    total = used + margin
    if total <= limit:
        return None
    return Denial(
        RiskReason.CREDIT_LIMIT,
        f"credit limit {limit:f} for {ticket.account}: used {used:f} + this order {adds:f} x margin {rate:f} "
        f"= {total:f}",
        (("limit", _plain(limit)), ("credit_used", _plain(used)), ("order_notional", _plain(adds)),
         ("margin_rate", _plain(rate)), ("order_margin", _plain(margin)), ("available", _plain(limit - used))),
    )  # fmt: skip


def check_rate_limit(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    limit = ctx.limits.max_messages_per_second
    if limit is None or ctx.messages_in_window + 1 <= limit:
        return None
    return Denial(
        RiskReason.RATE_LIMIT,
        f"message rate limit {limit:f}/s for {ticket.account}: {ctx.messages_in_window} in the last second "
        f"+ this {ticket.kind.value} = {ctx.messages_in_window + 1}",
        (("limit", _plain(limit)), ("messages_in_window", str(ctx.messages_in_window))),
    )


def check_duplicate_order(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    policy = ctx.policy
    if ctx.identical_recent + 1 <= policy.duplicate_max:
        return None
    price = "market" if ticket.limit_price is None else f"{ticket.limit_price:f}"
    window_ms = policy.duplicate_window_ns // NS_PER_MS
    return Denial(
        RiskReason.DUPLICATE_ORDER,
        f"duplicate order limit {policy.duplicate_max} per {window_ms} ms for {ticket.account}: "
        f"{ctx.identical_recent} identical {_side_word(ticket.side)} {ticket.quantity:f} {ticket.symbol} at {price} "
        f"+ this one = {ctx.identical_recent + 1}",
        (("limit", str(policy.duplicate_max)), ("identical_recent", str(ctx.identical_recent)),
         ("window_ms", str(window_ms))),
    )  # fmt: skip


def check_self_trade(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    """The order would trade against one of the account's own resting orders: a buy at P
    against a sell at or below P at the same venue (a parent: at any venue), and the mirror for
    a sell; a market order crosses any price."""
    own_resting = ctx.own_resting
    if not own_resting:
        return None
    price = ticket.limit_price
    buy = Side.BUY
    buying = ticket.side is buy
    venue = ticket.venue
    for resting in own_resting:
        if (resting.side is buy) is buying:
            continue  # own_resting is the other side already; this keeps the check right on its own
        if venue is not None and resting.venue is not None and resting.venue != venue:
            continue
        other = resting.limit_price
        if price is None or other is None or (other <= price if buying else other >= price):
            return _self_trade(ticket, resting)
    return None


def _self_trade(ticket: RiskTicket, resting: RestingOrder) -> Denial:
    price = "market" if ticket.limit_price is None else f"{ticket.limit_price:f}"
    other = "market" if resting.limit_price is None else f"{resting.limit_price:f}"
    where = f" at {resting.venue}" if resting.venue else ""
    kind = "child order" if resting.is_child else "order"
    return Denial(
        RiskReason.SELF_TRADE,
        f"self trade in {ticket.symbol} for {ticket.account}: this {_side_word(ticket.side)} at {price} would cross "
        f"its own resting {_side_word(resting.side)} {kind} {resting.order_id} at {other}{where}",
        (("price", price), ("resting_order_id", str(resting.order_id)), ("resting_price", other),
         ("resting_venue", resting.venue or "")),
    )  # fmt: skip


SUBMIT_CHECKS: tuple[Check, ...] = (
    check_kill_switch,
    check_restricted_instrument,
    check_price_band,
    check_max_order_qty,
    check_max_order_notional,
    check_position_limit,
    check_gross_notional_limit,
    check_credit_limit,
    check_rate_limit,
    check_duplicate_order,
    check_self_trade,
)
REPLACE_CHECKS = tuple(check for check in SUBMIT_CHECKS if check is not check_duplicate_order)
REDUCING_CHECKS: tuple[Check, ...] = (check_rate_limit,)  # cancels, and replaces that only reduce


def run_checks(ticket: RiskTicket, ctx: RiskContext) -> Denial | None:
    """The first denial, in the order of the module docstring, or None: the ticket passes."""
    if ticket.kind is TicketKind.CANCEL or not ticket.adds_risk:
        checks = REDUCING_CHECKS
    else:
        checks = SUBMIT_CHECKS if ticket.kind is TicketKind.SUBMIT else REPLACE_CHECKS
    for check in checks:
        denial = check(ticket, ctx)
        if denial is not None:
            return denial
    return None


def accepted_record(ticket: RiskTicket, ctx: RiskContext) -> AcceptedRecord:
    """What an order that passed records: the reference price, its age, the valuation price."""
    reference = ctx.reference
    age_ns = reference.age_ns(ctx.now_ns)
    return AcceptedRecord(
        reference.price, None if age_ns is None else age_ns // NS_PER_MS, valuation_price(ticket, ctx)
    )


# -- tickets ---------------------------------------------------------------------------------
def submit_ticket(command: SubmitOrder, venue: str | None) -> RiskTicket:
    """`venue`: where the order goes (the engine's default when the command names none), or
    None for a parent order."""
    limit_price = command.limit_price
    return RiskTicket(
        command.account,
        trader_of(command.actor),
        command.symbol,
        command.side,
        command.quantity,
        command.order_type,
        limit_price,
        venue,
        added_notional=command.quantity * limit_price if limit_price is not None else None,
    )


def _more_aggressive(side: Side, new_price: Decimal, old_price: Decimal) -> bool:
    return new_price > old_price if side is Side.BUY else new_price < old_price


def replace_ticket(
    order: OrderState, new_qty: Decimal | None, new_price: Decimal | None, trader: str | None = None
) -> RiskTicket:
    """What a replace of `order` adds. `new_qty`/`new_price`: as the ReplaceOrder asks (None:
    unchanged), the quantity being the new total with the fills. It adds the quantity increase
    (zero when not larger) and, for a limit order, the pending notional at the larger of the
    open quantities and prices, as `RiskUsage` counts a pending replace. No larger quantity, a
    price no more aggressive and no notional added: it only reduces, and only the rate limit
    applies."""
    quantity = order.quantity if new_qty is None else new_qty
    price = order.limit_price if new_price is None else new_price
    increase = max(quantity - order.quantity, ZERO)
    added_notional = None
    aggressive = adds_notional = False
    if order.order_type is OrderType.LIMIT and price is not None and order.limit_price is not None:
        aggressive = _more_aggressive(order.side, price, order.limit_price)
        old_open = order.leaves_qty
        new_open = max(quantity - order.cum_qty, ZERO)
        added_notional = max(old_open, new_open) * max(price, order.limit_price) - old_open * order.limit_price
        # A sell raised in price is no more aggressive, yet once applied its open quantity counts
        # at the higher price: more notional, so the notional checks (and the band) apply to it.
        adds_notional = new_open * price > old_open * order.limit_price
    return RiskTicket(
        order.account,
        trader,
        order.symbol,
        order.side,
        increase,
        order.order_type,
        price,
        order.venue,
        TicketKind.REPLACE,
        order_quantity=quantity,
        added_notional=added_notional,
        adds_risk=increase > 0 or aggressive or adds_notional,
    )


def cancel_ticket(order: OrderState, trader: str | None = None) -> RiskTicket:
    return RiskTicket(
        order.account,
        trader,
        order.symbol,
        order.side,
        ZERO,
        order.order_type,
        order.limit_price,
        order.venue,
        TicketKind.CANCEL,
        adds_risk=False,
    )
