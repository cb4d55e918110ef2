"""A stand-in for a venue connector until venues exist: execution reports and cancel
rejects sent as engine commands over the real bus, exactly as a connector will send them."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

from orders import bus
from orders.domain import commands as cmd
from orders.domain.values import ExecType


def report(
    order_id: int,
    exec_type: ExecType,
    last_qty: str | Decimal = "0",
    last_px: str | Decimal = "0",
    *,
    exec_id: str | None = None,
    **extra,
) -> dict:
    command = cmd.ApplyExecutionReport(
        command_id=bus.new_command_id(),
        received_at_ns=time.time_ns(),
        actor="venue:TEST",
        order_id=order_id,
        exec_id=exec_id or f"X-{uuid.uuid4().hex[:12]}",
        exec_type=exec_type,
        last_qty=Decimal(last_qty),
        last_px=Decimal(last_px),
        **extra,
    )
    return bus.send(command)


def ack(order_id: int) -> dict:
    return report(order_id, ExecType.NEW)


def fill(order_id: int, qty: str, px: str, exec_id: str | None = None) -> dict:
    return report(order_id, ExecType.TRADE, qty, px, exec_id=exec_id)


def canceled(order_id: int) -> dict:
    return report(order_id, ExecType.CANCELED)


def cancel_reject(order_id: int, cl_ord_id: str, reason: str = "too_late_to_cancel") -> dict:
    return bus.send(
        cmd.ApplyCancelReject(
            command_id=bus.new_command_id(),
            received_at_ns=time.time_ns(),
            actor="venue:TEST",
            order_id=order_id,
            cl_ord_id=cl_ord_id,
            reason=reason,
        )
    )
