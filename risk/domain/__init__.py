"""Pre-trade risk, pure: each check returns a `Denial` (a reason and a text) or None.

`checks`: the sanity gate every order passes first. `pretrade`: the limits, the price band and
the kill switch, in their order. `usage`: what the orders use of the limits, folded order event
by order event. `limits`, `reference`, `kill_switch`, `windows`: what the checks measure against.
"""

from .checks import MAX_PRICE, MAX_QUANTITY, Denial, InstrumentRules, check_order, check_replace
from .kill_switch import KillSwitches, Scope, Switch, trader_of
from .limits import DEFAULT_POLICY, NO_LIMITS, AccountLimits, InstrumentRisk, Limits, RiskPolicy
from .reference import NO_REFERENCE, Reference, far_touch, reference_of
from .windows import DuplicateWindow, MessageWindow

__all__ = [
    "DEFAULT_POLICY",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "NO_LIMITS",
    "NO_REFERENCE",
    "AccountLimits",
    "Denial",
    "DuplicateWindow",
    "InstrumentRisk",
    "InstrumentRules",
    "KillSwitches",
    "Limits",
    "MessageWindow",
    "Reference",
    "RiskPolicy",
    "Scope",
    "Switch",
    "check_order",
    "check_replace",
    "far_touch",
    "reference_of",
    "trader_of",
]
