"""Pre-trade risk, pure: each check returns a `Denial` (a reason and a text) or None."""

from .checks import Denial, InstrumentRules, check_order, check_replace

__all__ = ["Denial", "InstrumentRules", "check_order", "check_replace"]
