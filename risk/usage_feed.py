"""What the accounts use of their limits, as the engine holds it, published for the API, the
blotter and health: the engine writes an account's figures after each batch that changed them
(at most every PUBLISH_MIN_SECONDS), so `GET /api/v1/risk/usage/` shows the very numbers the next
order is checked against, and the engaged kill switches."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from orders import bus
from risk.domain import AccountUsage, Exposure, Switch

PUBLISH_MIN_SECONDS = 0.2


def _usage_key() -> str:
    return bus.key("engine:risk_usage")


def _switches_key() -> str:
    return bus.key("engine:kill_switches")


def usage_payload(account: AccountUsage, symbols: dict[str, Exposure]) -> dict[str, Any]:
    return {
        "gross_notional": _text(account.gross_notional),
        "credit_used": _text(account.credit_used),
        "symbols": {
            symbol: {
                "position": _text(e.position), "filled_notional": _text(e.filled_notional),
                "pending_buy": _text(e.pending_buy), "pending_sell": _text(e.pending_sell),
                "pending_buy_notional": _text(e.pending_buy_notional),
                "pending_sell_notional": _text(e.pending_sell_notional),
            }
            for symbol, e in symbols.items()
        },
        "at_ns": time.time_ns(),
    }  # fmt: skip


def publish(usage: dict[str, dict[str, Any]], switches: list[Switch]) -> None:
    """account -> usage_payload(...); and every engaged kill switch."""
    pipe = bus.client().pipeline(transaction=False)
    if usage:
        pipe.hset(_usage_key(), mapping={account: json.dumps(p) for account, p in usage.items()})
    pipe.set(_switches_key(), json.dumps([
        {"scope": s.scope.value, "target": s.target, "engaged_by": s.engaged_by, "reason": s.reason, "at_ns": s.at_ns}
        for s in switches
    ]))  # fmt: skip
    pipe.execute()


def read_usage(accounts: list[str]) -> dict[str, dict[str, Any] | None]:
    """account -> what the engine last published (None: no orders yet, nothing used)."""
    if not accounts:
        return {}
    values = bus.client().hmget(_usage_key(), accounts)
    return {account: json.loads(v) if v else None for account, v in zip(accounts, values)}


def read_switches() -> list[dict[str, Any]] | None:
    """The engaged kill switches as the engine last said (None: it has not said yet)."""
    value = bus.client().get(_switches_key())
    return None if value is None else json.loads(value)


def _text(value: Decimal) -> str:
    return format(value, "f")
