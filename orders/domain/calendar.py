"""The trading day: ClOrdID is unique per account per trading day (FIX)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


NS_PER_DAY = 86_400 * 1_000_000_000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def trading_day(at_ns: int, zone: str = "UTC") -> date:
    """The trading day a UTC nanosecond timestamp falls on, where the day rolls at midnight in `zone`."""
    if zone == "UTC":  # the common case, on the engine's hot path: plain arithmetic
        return date.fromordinal(EPOCH_ORDINAL + at_ns // NS_PER_DAY)
    moment = datetime.fromtimestamp(at_ns / 1_000_000_000, tz=UTC)
    return moment.astimezone(_zone(zone)).date()
