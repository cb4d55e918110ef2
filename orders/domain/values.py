"""Value types of the order domain, named as FIX 4.4 names them."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """54 Side."""

    BUY = "buy"
    SELL = "sell"
    SELL_SHORT = "sell_short"

    @property
    def sign(self) -> int:
        """+1 for buys, -1 for sells: the direction a fill moves the position."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    """40 OrdType."""

    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(StrEnum):
    """59 TimeInForce."""

    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrdStatus(StrEnum):
    """39 OrdStatus, in snake case as the REST API shows it."""

    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    PENDING_REPLACE = "pending_replace"
    REJECTED = "rejected"
    EXPIRED = "expired"
    DONE_FOR_DAY = "done_for_day"
    SUSPENDED = "suspended"

    # Hash as the str it equals (Enum's own __hash__ is a Python function hashing the name): the
    # fold looks a status up in the transition table and the status sets several times an event.
    __hash__ = str.__hash__

    @property
    def is_done(self) -> bool:
        """A done order takes no more cancels or replaces (FIX: 'too late')."""
        return self in DONE_STATUSES


# The status sets, named once. Every order is in exactly one of WORKING, PENDING and DONE
# (SUSPENDED aside, which no venue here sends).
# Working: at the venue (or on its way there) with no request of ours outstanding.
WORKING_STATUSES = frozenset({OrdStatus.PENDING_NEW, OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED})
# A cancel or replace of ours is outstanding at the venue.
PENDING_STATUSES = frozenset({OrdStatus.PENDING_CANCEL, OrdStatus.PENDING_REPLACE})
# Over: no more cancels or replaces (FIX: "too late"); only a late fill or a bust can still come.
DONE_STATUSES = frozenset(
    {OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED, OrdStatus.DONE_FOR_DAY}
)
# Live: the venue still owes us something about the order (status requests ask about these).
LIVE_STATUSES = WORKING_STATUSES | PENDING_STATUSES


class ExecType(StrEnum):
    """150 ExecType of a venue execution report: every FIX 4.4 value, and UNKNOWN for one that
    is not (the report is then an anomaly on the order, with the raw value in its text)."""

    NEW = "new"
    TRADE = "trade"
    CANCELED = "canceled"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"
    DONE_FOR_DAY = "done_for_day"
    ORDER_STATUS = "order_status"  # I: the answer to an OrderStatusRequest (35=H), not a change
    TRADE_CANCEL = "trade_cancel"  # H: a bust of an earlier fill (19 ExecRefID)
    TRADE_CORRECT = "trade_correct"  # G: an earlier fill's quantity or price corrected
    RESTATED = "restated"  # D: the venue changed the order on its own
    PENDING_NEW = "pending_new"  # A: the venue has it, not yet accepted: tells us nothing new
    PENDING_CANCEL = "pending_cancel"  # 6: the venue has our cancel: nothing new
    PENDING_REPLACE = "pending_replace"  # E: the venue has our replace: nothing new
    STOPPED = "stopped"  # 7: guaranteed a price (not offered by the venues here)
    SUSPENDED = "suspended"  # 9
    CALCULATED = "calculated"  # B
    TRIGGERED = "triggered"  # L: a stop or contingent order activated
    UNKNOWN = "unknown"  # not a FIX 4.4 ExecType


# ExecTypes that confirm what the OMS already knows (its own request reached the venue).
ECHO_EXEC_TYPES = frozenset({ExecType.PENDING_NEW, ExecType.PENDING_CANCEL, ExecType.PENDING_REPLACE})


class RequestKind(StrEnum):
    """What a pending cancel/replace request asks for."""

    CANCEL = "cancel"
    REPLACE = "replace"


class Strategy(StrEnum):
    """A parent order's routing instruction: how the smart order router places its children."""

    DIRECT = "direct"  # one child, at the named venue
    SPLIT = "split"  # across venues by displayed liquidity at or better than the limit, best price first
    SLICES = "slices"  # equal children, spread over the connected venues
