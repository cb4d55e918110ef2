"""The engine with the pre-trade risk gate off, for bench/risk_gate.py's baseline only: `run_engine`
in this process with `risk.gate.check_submit` replaced by the sanity checks alone (account,
instrument, grids), which the gate runs first anyway. Nothing in the OMS can switch the gate off;
this monkeypatch lives in the bench and nowhere else."""

from __future__ import annotations

import common  # noqa: F401  (Django set-up)
from django.core.management import call_command

from risk import gate
from risk.domain import check_order


def sanity_only(state, inputs, command, venue):
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
    return denial, None


if __name__ == "__main__":
    gate.check_submit = sanity_only
    call_command("run_engine")
