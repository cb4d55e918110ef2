"""The pre-trade gate: the one place the engine asks whether an order or a change may go on.

It runs the checks of risk/domain in their documented order over what the engine holds (reference
data, and, as they join, limits, usage and the reference price) and answers a Denial or None.
"""

from __future__ import annotations

from collections.abc import Mapping

from orders.domain import commands as cmd
from orders.domain.state import OrderState
from risk.domain import Denial, InstrumentRules, check_order
from risk.domain import check_replace as check_replacement


def check_submit(
    command: cmd.SubmitOrder, instruments: Mapping[str, InstrumentRules], active_accounts: set[str]
) -> Denial | None:
    return check_order(
        account=command.account,
        symbol=command.symbol,
        quantity=command.quantity,
        order_type=command.order_type.value,
        limit_price=command.limit_price,
        instruments=instruments,
        active_accounts=active_accounts,
    )


def check_replace(
    order: OrderState, command: cmd.ReplaceOrder, instruments: Mapping[str, InstrumentRules]
) -> Denial | None:
    return check_replacement(
        account=order.account,
        symbol=order.symbol,
        quantity=command.quantity if command.quantity is not None else order.quantity,
        order_type=order.order_type.value,
        limit_price=command.limit_price if command.limit_price is not None else order.limit_price,
        instruments=instruments,
    )
