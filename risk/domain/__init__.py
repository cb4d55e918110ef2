"""Pre-trade risk, pure: each check returns a `Denial` (a reason and a text) or None."""

from .checks import MAX_PRICE, MAX_QUANTITY, Denial, InstrumentRules, check_order, check_replace

__all__ = ["MAX_PRICE", "MAX_QUANTITY", "Denial", "InstrumentRules", "check_order", "check_replace"]
