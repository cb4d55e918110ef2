"""Risk configuration, from the database into the engine's domain values: account limits (with
per-symbol overrides), instrument controls (with the asset class defaults of
settings.OMS_RISK_ASSET_CLASSES) and the firm-wide policy. Also how an audited change moves one
of those values, so the engine applies its own change at once, before the next command."""

from __future__ import annotations

from dataclasses import fields, replace
from decimal import Decimal, InvalidOperation

from django.conf import settings

from orders.models import Instrument
from risk.domain import AccountLimits, InstrumentRisk, Limits, RiskPolicy
from risk.domain import events as risk_ev
from risk.models import LIMIT_FIELDS
from risk.models import AccountLimits as AccountLimitsRow
from risk.models import SymbolLimits as SymbolLimitsRow

INSTRUMENT_SETTINGS = ("price_band_pct", "max_reference_age_s", "restricted")


def asset_class_defaults(asset_class: str) -> dict[str, Decimal]:
    classes = settings.OMS_RISK_ASSET_CLASSES
    values = classes.get(asset_class) or classes[settings.OMS_RISK_DEFAULT_ASSET_CLASS]
    return {name: Decimal(value) for name, value in values.items()}


def instrument_risk(instrument: Instrument) -> InstrumentRisk:
    defaults = asset_class_defaults(instrument.asset_class)
    band = instrument.price_band_pct if instrument.price_band_pct is not None else defaults["price_band_pct"]
    age = instrument.max_reference_age_s
    return InstrumentRisk(
        instrument.symbol,
        price_band_pct=band,
        max_reference_age_s=age if age is not None else defaults["max_reference_age_s"],
        restricted=instrument.restricted,
        margin_rate=defaults["margin_rate"],
        market_collar_pct=defaults["market_collar_pct"],
    )


def _limits(row: AccountLimitsRow | SymbolLimitsRow | None) -> Limits:
    if row is None:
        return Limits()
    return Limits(*(getattr(row, name) for name in LIMIT_FIELDS))


def load_account_limits() -> dict[str, AccountLimits]:
    own = {row.account_id: _limits(row) for row in AccountLimitsRow.objects.all()}
    overrides: dict[str, dict[str, Limits]] = {}
    for row in SymbolLimitsRow.objects.all():
        overrides.setdefault(row.account_id, {})[row.symbol] = _limits(row)
    return {
        account: AccountLimits(account, own.get(account, Limits()), overrides.get(account, {}))
        for account in own.keys() | overrides.keys()
    }


def policy() -> RiskPolicy:
    return RiskPolicy(
        duplicate_max=settings.OMS_RISK_DUPLICATE_MAX,
        duplicate_window_ns=int(settings.OMS_RISK_DUPLICATE_WINDOW_S * 1_000_000_000),
    )


# -- changes ------------------------------------------------------------------------------------


class InvalidChange(ValueError):
    """A requested change that cannot be made; the message says why, for the requester."""


def parse_limit(name: str, value: str | None) -> Decimal | None:
    if name not in LIMIT_FIELDS:
        raise InvalidChange(f"no limit {name!r}; the limits are {', '.join(LIMIT_FIELDS)}")
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidChange(f"{name} must be a decimal number or null, got {value!r}") from None
    if not number.is_finite() or number < 0 or number >= Decimal("1e22"):
        raise InvalidChange(f"{name} must be zero or positive (and below 1e22), got {value!r}")
    return number


def parse_instrument_setting(name: str, value: str | None) -> Decimal | bool | None:
    if name == "restricted":
        if value not in ("true", "false"):
            raise InvalidChange(f"restricted must be true or false, got {value!r}")
        return value == "true"
    if name not in INSTRUMENT_SETTINGS:
        raise InvalidChange(f"no instrument control {name!r}; they are {', '.join(INSTRUMENT_SETTINGS)}")
    if value is None:
        return None  # the asset class's default
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidChange(f"{name} must be a decimal number or null, got {value!r}") from None
    if not number.is_finite() or number <= 0 or number > Decimal("100000"):
        raise InvalidChange(f"{name} must be positive, got {value!r}")
    return number


def text_of(value: Decimal | bool | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return format(value, "f")


def limits_after(current: Limits, changes: tuple[risk_ev.SettingChange, ...]) -> Limits:
    return replace(current, **{c.name: None if c.new is None else Decimal(c.new) for c in changes})


def account_limits_after(current: AccountLimits | None, event: risk_ev.RiskLimitsChanged) -> AccountLimits:
    account = current or AccountLimits(event.account, Limits())
    if event.symbol is None:
        return AccountLimits(account.account, limits_after(account.limits, event.changes), dict(account.symbols))
    symbols = dict(account.symbols)
    symbols[event.symbol] = limits_after(symbols.get(event.symbol, Limits()), event.changes)
    return AccountLimits(account.account, account.limits, symbols)


def limit_values(limits: Limits) -> dict[str, Decimal | None]:
    return {f.name: getattr(limits, f.name) for f in fields(limits)}
