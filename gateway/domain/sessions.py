"""Whether a client session may be logged on, as pure decisions the gateway's glue asks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


def kill_switch_refusal(engaged: Iterable[tuple[str, str, str]], accounts: frozenset[str]) -> str | None:
    """Why a session trading `accounts` may not be logged on while these switches (scope, target,
    reason) are engaged, or None. The firm's switch and one on any of its accounts cover it; a
    trader's does not (a FIX session is no trader), nor a venue's (its orders go elsewhere)."""
    for scope, target, reason in engaged:
        if scope == "firm":
            return f"kill switch engaged on the firm: {reason}"
        if scope == "account" and target in accounts:
            return f"kill switch engaged on account {target}: {reason}"
    return None


@dataclass
class RateLimit:
    """At most `per_second` messages in any one-second window of the session's clock (seconds)."""

    per_second: int
    _times: list[float] = field(default_factory=list)

    def allow(self, now: float) -> bool:
        cutoff = now - 1.0
        times = self._times
        while times and times[0] <= cutoff:
            times.pop(0)
        if len(times) >= self.per_second:
            return False
        times.append(now)
        return True
