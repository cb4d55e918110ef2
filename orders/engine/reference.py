"""Reference data the engine decides on: instruments (their grids and risk controls), accounts,
venues, and the accounts' risk limits, read from the database at start, every REFRESH_SECONDS
(admin changes reach the engine), and at once (at most every RELOAD_MIN_SECONDS) when a command names one
the engine does not know yet. The engine's own audited changes to limits and controls apply here
the moment it records them (`apply`), so the next command in the batch already sees them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

from orders.domain import commands as cmd
from orders.models import Account, Instrument
from risk import configuration
from risk.domain import DEFAULT_POLICY, NO_LIMITS, AccountLimits, InstrumentRisk, InstrumentRules, Limits, RiskPolicy
from risk.domain import events as risk_ev
from venues.models import Venue

RELOAD_MIN_SECONDS = 0.25  # a few queries: cheap, yet a client naming junk cannot make it reload all the time
REFRESH_SECONDS = 5.0


@dataclass
class ReferenceData:
    instruments: dict[str, InstrumentRules] = field(default_factory=dict)
    instrument_risk: dict[str, InstrumentRisk] = field(default_factory=dict)
    # symbol -> its own controls before the asset class defaults (price_band_pct, max_reference_age_s,
    # restricted, asset_class): what an audited change starts from
    instrument_controls: dict[str, dict] = field(default_factory=dict)
    limits: dict[str, AccountLimits] = field(default_factory=dict)
    policy: RiskPolicy = DEFAULT_POLICY
    active_accounts: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)  # active or not
    venues: set[str] = field(default_factory=set)  # active ones
    all_venues: set[str] = field(default_factory=set)
    default_venue: str | None = None
    loaded_at: float = 0.0  # time.monotonic()

    def load(self) -> None:
        rows = list(Instrument.objects.all())
        self.instruments = {i.symbol: InstrumentRules(i.symbol, i.tick_size, i.lot_size, i.active) for i in rows}
        self.instrument_risk = {i.symbol: configuration.instrument_risk(i) for i in rows}
        self.instrument_controls = {
            i.symbol: {"price_band_pct": i.price_band_pct, "max_reference_age_s": i.max_reference_age_s,
                       "restricted": i.restricted, "asset_class": i.asset_class}
            for i in rows
        }  # fmt: skip
        self.limits = configuration.load_account_limits()
        self.policy = configuration.policy()
        accounts = list(Account.objects.values_list("code", "active"))
        self.accounts = {code for code, _ in accounts}
        self.active_accounts = {code for code, active in accounts if active}
        venues = list(Venue.objects.all())
        self.all_venues = {v.name for v in venues}
        self.venues = {v.name for v in venues if v.active}
        self.default_venue = next((v.name for v in venues if v.active and v.default), None)
        self.loaded_at = time.monotonic()

    def margin_rates(self) -> dict[str, Decimal]:
        return {symbol: risk.margin_rate for symbol, risk in self.instrument_risk.items()}

    def limits_for(self, account: str, symbol: str) -> Limits:
        found = self.limits.get(account)
        return found.for_symbol(symbol) if found is not None else NO_LIMITS

    def apply(self, event: risk_ev.RiskEvent) -> None:
        """An audited change the engine has just recorded."""
        if isinstance(event, risk_ev.RiskLimitsChanged):
            self.limits[event.account] = configuration.account_limits_after(self.limits.get(event.account), event)
        elif isinstance(event, risk_ev.InstrumentRiskChanged) and event.symbol in self.instrument_controls:
            controls = self.instrument_controls[event.symbol]
            for change in event.changes:
                controls[change.name] = configuration.parse_instrument_setting(change.name, change.new)
            self.instrument_risk[event.symbol] = configuration.instrument_risk(
                Instrument(symbol=event.symbol, **controls)
            )

    def refresh(self, commands: list[cmd.Command]) -> bool:
        """Reload when it is time, or when a command names something not known yet (it may have
        been added since): the decisions that follow then see the database as it is now."""
        age = time.monotonic() - self.loaded_at
        if age > REFRESH_SECONDS or (age > RELOAD_MIN_SECONDS and any(map(self._names_unknown, commands))):
            self.load()
            return True
        return False

    def _names_unknown(self, command: cmd.Command) -> bool:
        if isinstance(command, cmd.SubmitOrder):
            venues = {command.venue} if command.venue else set()
            return (
                command.symbol not in self.instruments
                or command.account not in self.active_accounts
                or not venues.union(command.venues or ()) <= self.venues
            )
        if isinstance(command, cmd.ChangeInstrumentRisk):
            return command.symbol not in self.instruments
        if isinstance(command, cmd.ChangeRiskLimits):
            return command.account not in self.accounts or (command.symbol or "") not in {"", *self.instruments}
        if isinstance(command, cmd.ExpireDayOrders):
            return command.venue not in self.all_venues
        if isinstance(command, cmd.EngageKillSwitch):
            return command.target is not None and command.target not in self.accounts | self.all_venues
        return False
