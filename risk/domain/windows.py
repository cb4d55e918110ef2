"""Sliding windows over recent messages: the message rate per account and identical orders.

Times come in as arguments (`now_ns`, `at_ns`: the commands' `received_at_ns`); nothing here
reads a clock. Each window keeps its stamps in a deque, oldest first, and drops the ones that
have left the window whenever it is asked, so the work per message stays constant.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from decimal import Decimal

from orders.domain.values import Side

from .limits import DEFAULT_POLICY, NS_PER_SECOND, RiskPolicy


class _Stamps:
    """Per key, the stamps within `window_ns` of the latest question."""

    __slots__ = ("_next_sweep", "_stamps", "window_ns")

    def __init__(self, window_ns: int) -> None:
        self.window_ns = window_ns
        self._stamps: dict[Hashable, deque[int]] = {}
        self._next_sweep = 1024

    def count(self, key: Hashable, now_ns: int) -> int:
        """How many stamps of `key` lie within the window before `now_ns` (a stamp `window_ns`
        old or older has left it)."""
        stamps = self._stamps.get(key)
        if stamps is None:
            return 0
        horizon = now_ns - self.window_ns
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        if not stamps:
            del self._stamps[key]
            return 0
        return len(stamps)

    def record(self, key: Hashable, at_ns: int) -> None:
        stamps = self._stamps.get(key)
        if stamps is None:
            stamps = self._stamps[key] = deque()
        elif stamps[-1] > at_ns:
            # Commands from different edges may arrive a little out of stamp order; keeping the
            # deque sorted keeps the oldest at its front, and the stamp moves by that little.
            at_ns = stamps[-1]
        stamps.append(at_ns)
        if len(self._stamps) > self._next_sweep:
            self.prune(at_ns)
            self._next_sweep = 2 * len(self._stamps) + 1024

    def prune(self, now_ns: int) -> None:
        """Forget the keys with nothing left in the window (ones never asked about again)."""
        horizon = now_ns - self.window_ns
        for key in [key for key, stamps in self._stamps.items() if stamps[-1] <= horizon]:
            del self._stamps[key]


class MessageWindow:
    """Client messages (submits, replaces, cancels) per account within the last second."""

    __slots__ = ("_stamps",)

    def __init__(self, window_ns: int = NS_PER_SECOND) -> None:
        self._stamps = _Stamps(window_ns)

    def count(self, account: str, now_ns: int) -> int:
        return self._stamps.count(account, now_ns)

    def record(self, account: str, at_ns: int) -> None:
        self._stamps.record(account, at_ns)

    def prune(self, now_ns: int) -> None:
        self._stamps.prune(now_ns)


class DuplicateWindow:
    """Accepted orders per (account, symbol, side, quantity, limit price) within the policy's
    window. Decimal keys compare by value: 100 and 100.00 are the same quantity."""

    __slots__ = ("_stamps",)

    def __init__(self, policy: RiskPolicy = DEFAULT_POLICY) -> None:
        self._stamps = _Stamps(policy.duplicate_window_ns)

    def count(
        self, account: str, symbol: str, side: Side, quantity: Decimal, limit_price: Decimal | None, now_ns: int
    ) -> int:
        return self._stamps.count((account, symbol, side, quantity, limit_price), now_ns)

    def record(
        self, account: str, symbol: str, side: Side, quantity: Decimal, limit_price: Decimal | None, at_ns: int
    ) -> None:
        self._stamps.record((account, symbol, side, quantity, limit_price), at_ns)

    def prune(self, now_ns: int) -> None:
        self._stamps.prune(now_ns)
