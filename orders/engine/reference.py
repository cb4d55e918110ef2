"""Reference data the engine decides on: instruments, accounts and venues, read from the
database at start, every REFRESH_SECONDS (admin changes reach the engine), and at once (at most
once a second) when a command names one the engine does not know yet."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from orders.domain import commands as cmd
from orders.models import Account, Instrument
from risk.domain import InstrumentRules
from venues.models import Venue

RELOAD_MIN_SECONDS = 1.0
REFRESH_SECONDS = 5.0


@dataclass
class ReferenceData:
    instruments: dict[str, InstrumentRules] = field(default_factory=dict)
    active_accounts: set[str] = field(default_factory=set)
    venues: set[str] = field(default_factory=set)  # active ones
    default_venue: str | None = None
    loaded_at: float = 0.0  # time.monotonic()

    def load(self) -> None:
        self.instruments = {
            i.symbol: InstrumentRules(i.symbol, i.tick_size, i.lot_size, i.active) for i in Instrument.objects.all()
        }
        self.active_accounts = set(Account.objects.filter(active=True).values_list("code", flat=True))
        venues = list(Venue.objects.filter(active=True))
        self.venues = {v.name for v in venues}
        self.default_venue = next((v.name for v in venues if v.default), None)
        self.loaded_at = time.monotonic()

    def refresh(self, commands: list[cmd.Command]) -> None:
        """Reload when it is time, or when a command names something not known yet (it may have
        been added since): the decisions that follow then see the database as it is now."""
        age = time.monotonic() - self.loaded_at
        if age > REFRESH_SECONDS or (age > RELOAD_MIN_SECONDS and any(map(self._names_unknown, commands))):
            self.load()

    def _names_unknown(self, command: cmd.Command) -> bool:
        if not isinstance(command, cmd.SubmitOrder):
            return False
        venues = {command.venue} if command.venue else set()
        return (
            command.symbol not in self.instruments
            or command.account not in self.active_accounts
            or not venues.union(command.venues or ()) <= self.venues
        )
