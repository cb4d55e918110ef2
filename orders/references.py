"""The reference prices the engine decides on, as it publishes them for the API and health.

The engine derives each instrument's reference from the venues' books and trades it holds in
memory (the pre-trade price band checks against it) and publishes it here every PUBLISH_SECONDS:
what a person sees is what the checks would use, with its age.
"""

from __future__ import annotations

import json
import time
from typing import Any

from orders import bus

PUBLISH_SECONDS = 0.5


def _key() -> str:
    return bus.key("engine:references")


def publish(quotes: dict[str, dict[str, Any]]) -> None:
    """symbol -> {"bid", "ask", "last", "reference", "source", "at_ns"} (decimals as strings)."""
    if quotes:
        bus.client().hset(_key(), mapping={symbol: json.dumps(q) for symbol, q in quotes.items()})


def forget() -> None:
    """At an engine's start: what an earlier engine published is not what this one holds."""
    bus.client().delete(_key())


def read() -> dict[str, dict[str, Any]]:
    """What the engine last published, each with `age_s` (None when it has no reference)."""
    now = time.time_ns()
    return {symbol: _aged(json.loads(value), now) for symbol, value in bus.client().hgetall(_key()).items()}


def read_one(symbol: str) -> dict[str, Any] | None:
    value = bus.client().hget(_key(), symbol)
    return None if value is None else _aged(json.loads(value), time.time_ns())


def _aged(quote: dict[str, Any], now_ns: int) -> dict[str, Any]:
    at_ns = quote.get("at_ns")
    quote["age_s"] = None if at_ns is None else round((now_ns - at_ns) / 1e9, 3)
    return quote
