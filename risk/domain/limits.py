"""Risk limits and instrument risk settings: the figures the pre-trade checks hold orders to.

Reference data, loaded by the engine and passed in; nothing here reads a store. A limit of
None means no limit. Per-symbol overrides are merged once, when an account's limits are built,
so the critical path looks up one ready `Limits` per order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal

ONE = Decimal(1)
HUNDRED = Decimal(100)
NS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Limits:
    """One account's limits (or a symbol's overrides of them). None: no limit."""

    max_order_qty: Decimal | None = None
    max_order_notional: Decimal | None = None
    max_position_qty: Decimal | None = None  # per symbol, absolute (long or short), pending counted
    max_gross_notional: Decimal | None = None  # per account
    credit_limit: Decimal | None = None  # per account: margin used, notional x margin rate
    max_messages_per_second: Decimal | None = None  # submits, replaces and cancels together

    def merged(self, override: Limits) -> Limits:
        """These limits with every per-symbol limit `override` sets in its place. The account-wide
        ones (gross notional, credit, message rate) are the account's whatever the symbol: an
        override must not lift the account's cap for orders in one symbol."""
        return Limits(
            *(
                getattr(override, f.name)
                if f.name in SYMBOL_LIMITS and getattr(override, f.name) is not None
                else getattr(self, f.name)
                for f in fields(self)
            )
        )


NO_LIMITS = Limits()
# The limits an account may set per symbol; the others hold across its symbols.
SYMBOL_LIMITS = frozenset({"max_order_qty", "max_order_notional", "max_position_qty"})


@dataclass(frozen=True, slots=True)
class AccountLimits:
    account: str
    limits: Limits
    symbols: Mapping[str, Limits] = field(default_factory=dict)  # per-symbol overrides
    _by_symbol: dict[str, Limits] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        merged = {symbol: self.limits.merged(override) for symbol, override in self.symbols.items()}
        object.__setattr__(self, "_by_symbol", merged)

    def for_symbol(self, symbol: str) -> Limits:
        """The limits an order in `symbol` is held to: the account's, with the symbol's overrides."""
        return self._by_symbol.get(symbol, self.limits)


@dataclass(frozen=True, slots=True)
class InstrumentRisk:
    """An instrument's risk settings. The derived figures below are computed once, here, so the
    checks multiply instead of divide and convert no units per order."""

    symbol: str
    price_band_pct: Decimal  # 10: a limit price may be at most 10% away from the reference
    max_reference_age_s: Decimal  # an older reference price is stale: orders wait for a fresh one
    restricted: bool = False  # no new risk at all (compliance)
    margin_rate: Decimal = ONE  # 0..1, from the asset class: the credit an order's notional uses
    market_collar_pct: Decimal = Decimal(0)  # a market order is valued at the far touch +- this %
    max_reference_age_ns: int = field(init=False, repr=False, compare=False)
    price_band_fraction: Decimal = field(init=False, repr=False, compare=False)  # band% / 100, exact
    buy_collar: Decimal = field(init=False, repr=False, compare=False)  # 1 + collar%
    sell_collar: Decimal = field(init=False, repr=False, compare=False)  # 1 - collar%

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_reference_age_ns", int(self.max_reference_age_s * NS_PER_SECOND))
        object.__setattr__(self, "price_band_fraction", self.price_band_pct / HUNDRED)
        object.__setattr__(self, "buy_collar", ONE + self.market_collar_pct / HUNDRED)
        object.__setattr__(self, "sell_collar", ONE - self.market_collar_pct / HUNDRED)


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    """Firm-wide settings. The `duplicate_max`-th identical order within the window passes; one
    more is `duplicate_order` (a stuck client resending, or a fat finger on a hotkey)."""

    duplicate_max: int = 5
    duplicate_window_ns: int = NS_PER_SECOND


DEFAULT_POLICY = RiskPolicy()
