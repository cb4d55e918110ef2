"""Kill switches: a person stops new risk for the whole firm, an account, a trader or a venue.

An engaged switch denies submits and replaces that add risk (`kill_switch`); cancels and pure
reductions still pass, so a halted book can always be brought down. What is already resting
at the venues is the mass cancel's business, not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    FIRM = "firm"
    ACCOUNT = "account"  # target: the account code
    TRADER = "trader"  # target: the username
    VENUE = "venue"  # target: the venue name


@dataclass(frozen=True, slots=True)
class Switch:
    scope: Scope
    target: str | None  # None for the firm
    engaged_by: str  # the actor: "user:<name>"
    reason: str
    at_ns: int


USER_PREFIX = "user:"


def trader_of(actor: str) -> str | None:
    """The username of the person behind an actor ("user:<name>"). A FIX session
    ("fix:<CompID>") or the system is no trader, so no trader switch can halt it."""
    return actor[len(USER_PREFIX) :] if actor.startswith(USER_PREFIX) else None


class KillSwitches:
    """The engaged switches, one per scope and target. Owned by the engine; engaging the same
    scope and target again keeps the newer switch (its reason and who engaged it)."""

    __slots__ = ("_by_scope", "_firm")

    def __init__(self, switches: tuple[Switch, ...] = ()) -> None:
        self._firm: Switch | None = None
        self._by_scope: dict[Scope, dict[str, Switch]] = {Scope.ACCOUNT: {}, Scope.TRADER: {}, Scope.VENUE: {}}
        for switch in switches:
            self.engage(switch)

    def engage(self, switch: Switch) -> None:
        """Precondition: a firm switch has no target; every other one has."""
        if switch.scope is Scope.FIRM:
            if switch.target is not None:
                raise ValueError("a firm kill switch names no target")
            self._firm = switch
            return
        if not switch.target:
            raise ValueError(f"a {switch.scope.value} kill switch needs a target")
        self._by_scope[switch.scope][switch.target] = switch

    def release(self, scope: Scope, target: str | None = None) -> Switch | None:
        """The switch released, or None if it was not engaged."""
        if scope is Scope.FIRM:
            released, self._firm = self._firm, None
            return released
        if target is None:
            return None
        return self._by_scope[scope].pop(target, None)

    def engaged(self) -> tuple[Switch, ...]:
        firm = (self._firm,) if self._firm is not None else ()
        return firm + tuple(s for by_target in self._by_scope.values() for s in by_target.values())

    def halting(self, account: str, trader: str | None, venue: str | None) -> Switch | None:
        """The switch that halts new risk for this order, the widest first, or None.

        `venue` None is a parent order: only the firm, its account or its trader halt it; the
        router must leave out halted venues when it places the children."""
        if self._firm is not None:
            return self._firm
        by_scope = self._by_scope
        switch = by_scope[Scope.ACCOUNT].get(account)
        if switch is None and trader is not None:
            switch = by_scope[Scope.TRADER].get(trader)
        if switch is None and venue is not None:
            switch = by_scope[Scope.VENUE].get(venue)
        return switch

    def venue_halted(self, venue: str) -> Switch | None:
        """For the router: a venue it must not place children at."""
        return self._by_scope[Scope.VENUE].get(venue)
