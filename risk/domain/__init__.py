"""Pre-trade risk, pure: each check returns a `Denial` (a reason and a text) or None.

`checks`: the sanity gate every order passes first. `pretrade`: the limits, the price band and
the kill switch, in their order. `usage`: what the orders use of the limits, folded order event
by order event. `limits`, `reference`, `kill_switch`, `windows`: what the checks measure against.
"""

from .checks import MAX_PRICE, MAX_QUANTITY, Denial, InstrumentRules, check_order, check_replace
from .kill_switch import KillSwitches, Scope, Switch, trader_of
from .limits import DEFAULT_POLICY, NO_LIMITS, AccountLimits, InstrumentRisk, Limits, RiskPolicy
from .pretrade import (
    AcceptedRecord,
    RiskContext,
    RiskReason,
    RiskTicket,
    TicketKind,
    accepted_record,
    cancel_ticket,
    replace_ticket,
    run_checks,
    submit_ticket,
    valuation_price,
)
from .reference import NO_REFERENCE, Reference, far_touch, reference_of
from .usage import (
    NO_ACCOUNT_USAGE,
    NO_EXPOSURE,
    AccountUsage,
    Exposure,
    RestingOrder,
    RiskUsage,
    contribution,
    recompute,
    resting_of,
)
from .windows import DuplicateWindow, MessageWindow

__all__ = [
    "DEFAULT_POLICY",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "NO_ACCOUNT_USAGE",
    "NO_EXPOSURE",
    "NO_LIMITS",
    "NO_REFERENCE",
    "AcceptedRecord",
    "AccountLimits",
    "AccountUsage",
    "Denial",
    "DuplicateWindow",
    "Exposure",
    "InstrumentRisk",
    "InstrumentRules",
    "KillSwitches",
    "Limits",
    "MessageWindow",
    "Reference",
    "RestingOrder",
    "RiskContext",
    "RiskPolicy",
    "RiskReason",
    "RiskTicket",
    "RiskUsage",
    "Scope",
    "Switch",
    "TicketKind",
    "accepted_record",
    "cancel_ticket",
    "check_order",
    "check_replace",
    "contribution",
    "far_touch",
    "recompute",
    "reference_of",
    "replace_ticket",
    "resting_of",
    "run_checks",
    "submit_ticket",
    "trader_of",
    "valuation_price",
]
