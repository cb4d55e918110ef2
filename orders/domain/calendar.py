"""The trading day: ClOrdID is unique per account per trading day (FIX)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def trading_day(at_ns: int, zone: str = "UTC") -> date:
    """The trading day a UTC nanosecond timestamp falls on, where the day rolls at midnight in `zone`."""
    moment = datetime.fromtimestamp(at_ns / 1_000_000_000, tz=UTC)
    return moment.astimezone(_zone(zone)).date()
