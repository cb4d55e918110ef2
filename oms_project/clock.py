"""The time the day's clocks read: the simulators' close and the trading-day services (the close
sweep, the end-of-day report). Wall time plus OMS_CLOCK_OFFSET_S, so a test or a rehearsal can
move a whole deployment to just before a close. The order path never reads it: orders are stamped
with the wall clock at the edge, and the engine decides on the command's own time."""

from __future__ import annotations

import time

from django.conf import settings


def now_ns() -> int:
    return time.time_ns() + int(settings.OMS_CLOCK_OFFSET_S * 1_000_000_000)
