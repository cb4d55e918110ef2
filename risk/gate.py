"""The pre-trade gate: the one place the engine asks whether an order or a change may go on.

First the sanity checks (account, instrument, grids), then the risk checks of risk/domain in
their documented order (risk/domain/pretrade.py), over what the engine holds: the limits and
instrument controls (reference data), the reference price (the venues' books, with their age),
the usage and windows folded from the log, and the engaged kill switches. Times are the
command's own (`received_at_ns`), as the events record them, so a replay sees what the decision
saw. An accepted order records the reference it was measured against (`RiskCheckRecord`).
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import TYPE_CHECKING

from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.state import OrderState
from risk.domain import (
    NO_ACCOUNT_USAGE,
    NO_EXPOSURE,
    NO_REFERENCE,
    Denial,
    InstrumentRisk,
    RiskContext,
    RiskTicket,
    accepted_record,
    cancel_ticket,
    check_order,
    replace_ticket,
    run_checks,
    submit_ticket,
    trader_of,
)
from risk.domain import check_replace as check_replacement

if TYPE_CHECKING:
    from orders.engine.decisions import Inputs
    from orders.engine.state import EngineState


def check_submit(
    state: EngineState, inputs: Inputs, command: cmd.SubmitOrder, venue: str | None
) -> tuple[Denial | None, ev.RiskCheckRecord | None]:
    """`venue`: where the order goes, None for a parent (its children may go anywhere)."""
    reference = inputs.reference
    denial = check_order(
        account=command.account,
        symbol=command.symbol,
        quantity=command.quantity,
        order_type=command.order_type.value,
        limit_price=command.limit_price,
        instruments=reference.instruments,
        active_accounts=reference.active_accounts,
    )
    if denial is not None:
        return denial, None
    ticket = submit_ticket(command, venue)
    context = _context(state, inputs, ticket, command.received_at_ns)
    denial = run_checks(ticket, context)
    if denial is not None:
        return denial, None
    record = accepted_record(ticket, context)
    return None, ev.RiskCheckRecord(record.reference_price, record.reference_age_ms, record.valued_at)


def check_replace(state: EngineState, inputs: Inputs, order: OrderState, command: cmd.ReplaceOrder) -> Denial | None:
    denial = check_replacement(
        account=order.account,
        symbol=order.symbol,
        quantity=command.quantity if command.quantity is not None else order.quantity,
        order_type=order.order_type.value,
        limit_price=command.limit_price if command.limit_price is not None else order.limit_price,
        instruments=inputs.reference.instruments,
    )
    if denial is not None:
        return denial
    ticket = replace_ticket(order, command.quantity, command.limit_price, trader_of(command.actor))
    excluding = (order.order_id, *order.children)  # it cannot trade against itself
    return run_checks(ticket, _context(state, inputs, ticket, command.received_at_ns, excluding))


def check_cancel(state: EngineState, inputs: Inputs, order: OrderState, command: cmd.CancelOrder) -> Denial | None:
    """Only the message rate: taking risk off is always allowed, kill switch or not, and whatever
    became of the instrument meanwhile (so the context holds only what the rate check reads)."""
    ticket = cancel_ticket(order, trader_of(command.actor))
    now_ns = command.received_at_ns
    context = RiskContext(
        limits=inputs.reference.limits_for(order.account, order.symbol),
        instrument=CANCEL_INSTRUMENT,
        reference=NO_REFERENCE,
        now_ns=now_ns,
        exposure=NO_EXPOSURE,
        account_usage=NO_ACCOUNT_USAGE,
        margin_rate=Decimal(0),
        messages_in_window=state.messages.count(order.account, now_ns),
        identical_recent=0,
        own_resting=(),
        kill_switch=None,
    )
    return run_checks(ticket, context)


# What a cancel's context holds for the checks it does not run: nothing a cancel could fail on.
CANCEL_INSTRUMENT = InstrumentRisk("", price_band_pct=Decimal(100), max_reference_age_s=Decimal(0))


def _context(
    state: EngineState, inputs: Inputs, ticket: RiskTicket, now_ns: int, excluding: Collection[int] = ()
) -> RiskContext:
    reference = inputs.reference
    instrument = reference.instrument_risk[ticket.symbol]
    account, symbol = ticket.account, ticket.symbol
    return RiskContext(
        limits=reference.limits_for(account, symbol),
        instrument=instrument,
        reference=inputs.market.reference(symbol, now_ns),
        now_ns=now_ns,
        exposure=state.usage.symbol(account, symbol),
        account_usage=state.usage.account(account),
        margin_rate=instrument.margin_rate,
        messages_in_window=state.messages.count(account, now_ns),
        identical_recent=state.duplicates.count(
            account, symbol, ticket.side, ticket.quantity, ticket.limit_price, now_ns
        ),
        own_resting=state.usage.own_resting(account, symbol, ticket.side, excluding),
        kill_switch=state.kill_switches.halting(account, ticket.trader, ticket.venue),
        policy=reference.policy,
    )
