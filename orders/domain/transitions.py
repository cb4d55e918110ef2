"""The order state machine as one table: (status, event type) -> next status.

A pair that is not in the table is an invalid transition: `decide` never produces one
(it records an anomaly instead) and `apply` refuses it with `InvalidTransition`.
Two targets are computed rather than fixed:
- WORKING: new, partially_filled or filled by the fills so far (and pending_new if the venue
  has not acknowledged the order yet); used when a pending request is resolved or a
  replace changes the quantity.
- SAME: the status does not change (a late report that is still booked).
"""

from __future__ import annotations

from typing import Final

from . import events as ev
from .values import DONE_STATUSES, PENDING_STATUSES, WORKING_STATUSES, OrdStatus

WORKING: Final = "WORKING"
SAME: Final = "SAME"
Target = OrdStatus | str

PN = OrdStatus.PENDING_NEW
NEW = OrdStatus.NEW
PF = OrdStatus.PARTIALLY_FILLED
FILLED = OrdStatus.FILLED
PC = OrdStatus.PENDING_CANCEL
CANCELED = OrdStatus.CANCELED
PR = OrdStatus.PENDING_REPLACE
REJECTED = OrdStatus.REJECTED
EXPIRED = OrdStatus.EXPIRED
DFD = OrdStatus.DONE_FOR_DAY

TRANSITIONS: dict[tuple[OrdStatus | None, type], Target] = {
    # Creation: the first event of every order stream.
    (None, ev.OrderAccepted): PN,
    (None, ev.OrderRejected): REJECTED,
    # The venue's answer to the order itself.
    (PN, ev.OrderAcknowledged): NEW,
    (PN, ev.OrderVenueRejected): REJECTED,
    (PC, ev.OrderAcknowledged): SAME,  # the ack can trail a cancel we already sent
    (PR, ev.OrderAcknowledged): SAME,
    (PC, ev.OrderVenueRejected): REJECTED,  # rejected before our cancel reached the venue
    (PR, ev.OrderVenueRejected): REJECTED,
    (PF, ev.OrderAcknowledged): SAME,  # a venue may report a fill before its ack
    # Fills. A fill before the ack implies the ack.
    (PN, ev.OrderPartiallyFilled): PF,
    (PN, ev.OrderFilled): FILLED,
    (NEW, ev.OrderPartiallyFilled): PF,
    (NEW, ev.OrderFilled): FILLED,
    (PF, ev.OrderPartiallyFilled): PF,
    (PF, ev.OrderFilled): FILLED,
    (FILLED, ev.OrderFilled): FILLED,  # a parent's children executed more: after ParentQuantityRaised
    (PC, ev.OrderPartiallyFilled): PC,  # a fill can race a cancel: booked, the cancel still pends
    (PC, ev.OrderFilled): FILLED,  # the cancel lost the race; the venue's reject follows
    (PR, ev.OrderPartiallyFilled): PR,  # a fill can race a replace
    (PR, ev.OrderFilled): FILLED,
    (CANCELED, ev.OrderPartiallyFilled): SAME,  # a fill can race a cancel ack: booked, still canceled
    (CANCELED, ev.OrderFilled): FILLED,  # the late fill completed the order
    (EXPIRED, ev.OrderPartiallyFilled): SAME,  # a fill can race an expiry
    (EXPIRED, ev.OrderFilled): FILLED,
    # Cancel.
    (PN, ev.OrderCancelRequested): PC,
    (NEW, ev.OrderCancelRequested): PC,
    (PF, ev.OrderCancelRequested): PC,
    (PN, ev.OrderCanceled): CANCELED,  # unsolicited: the venue canceled on its own
    (NEW, ev.OrderCanceled): CANCELED,
    (PF, ev.OrderCanceled): CANCELED,
    (PC, ev.OrderCanceled): CANCELED,
    (PR, ev.OrderCanceled): CANCELED,
    (PC, ev.OrderCancelRejected): WORKING,  # (only when it answers the pending request)
    # Replace.
    (PN, ev.OrderReplaceRequested): PR,
    (NEW, ev.OrderReplaceRequested): PR,
    (PF, ev.OrderReplaceRequested): PR,
    (PR, ev.OrderReplaced): WORKING,
    (PR, ev.OrderReplaceRejected): WORKING,  # (only when it answers the pending request)
    # Expiry and end of day.
    (PN, ev.OrderExpired): EXPIRED,
    (NEW, ev.OrderExpired): EXPIRED,
    (PF, ev.OrderExpired): EXPIRED,
    (PC, ev.OrderExpired): EXPIRED,
    (PR, ev.OrderExpired): EXPIRED,
    (PN, ev.OrderDoneForDay): DFD,
    (NEW, ev.OrderDoneForDay): DFD,
    (PF, ev.OrderDoneForDay): DFD,
    (PC, ev.OrderDoneForDay): DFD,
    (PR, ev.OrderDoneForDay): DFD,
    (DFD, ev.OrderPartiallyFilled): SAME,  # a fill can race the end of the day
    (DFD, ev.OrderFilled): FILLED,
    # Busts and corrections of earlier fills (150=H, G). A working order, or one the busted fill
    # had completed, works again by what stands filled (FIX's trade-cancel scenarios reopen a
    # filled order); a pending request still pends; an order ended otherwise stays ended.
    (PF, ev.FillBusted): WORKING,
    (FILLED, ev.FillBusted): WORKING,
    (PC, ev.FillBusted): SAME,
    (PR, ev.FillBusted): SAME,
    (CANCELED, ev.FillBusted): SAME,
    (EXPIRED, ev.FillBusted): SAME,
    (DFD, ev.FillBusted): SAME,
    (PF, ev.FillCorrected): WORKING,
    (FILLED, ev.FillCorrected): WORKING,
    (PC, ev.FillCorrected): SAME,
    (PR, ev.FillCorrected): SAME,
    (CANCELED, ev.FillCorrected): SAME,
    (EXPIRED, ev.FillCorrected): SAME,
    (DFD, ev.FillCorrected): SAME,
    # The venue changed a working order on its own (150=D).
    (PN, ev.OrderRestated): WORKING,
    (NEW, ev.OrderRestated): WORKING,
    (PF, ev.OrderRestated): WORKING,
    (PC, ev.OrderRestated): SAME,
    (PR, ev.OrderRestated): SAME,
    # A parent replace waits for its children's answers, then takes effect.
    (PR, ev.ParentReplaced): WORKING,
}

# A parent order: the router places children (more of them later, when it re-routes what a lost
# child worked). Logs written before parent replaces waited for the children hold a
# ParentReplaced applied at once to a working parent: those rows keep them readable.
for _status in WORKING_STATUSES | PENDING_STATUSES:
    TRANSITIONS[(_status, ev.OrderRouted)] = SAME
for _status in WORKING_STATUSES:
    TRANSITIONS[(_status, ev.ParentReplaced)] = WORKING
# A parent's children executed more than the parent's quantity: it grows, whatever its status.
for _status in WORKING_STATUSES | PENDING_STATUSES | DONE_STATUSES - {REJECTED}:
    TRANSITIONS[(_status, ev.ParentQuantityRaised)] = SAME

# Refusals of a request change nothing on an order that has no such request pending:
# "too late" on a done order, "already pending" on a pending one, and the venue's reject of
# a cancel that lost the race to the final fill (the order is filled by then).
for _status in WORKING_STATUSES | PENDING_STATUSES | DONE_STATUSES:
    TRANSITIONS.setdefault((_status, ev.OrderCancelRejected), SAME)
    TRANSITIONS.setdefault((_status, ev.OrderReplaceRejected), SAME)
# An anomaly is recorded against the order and never moves it.
for _status in WORKING_STATUSES | PENDING_STATUSES | DONE_STATUSES:
    TRANSITIONS[(_status, ev.ExecutionAnomalyRecorded)] = SAME


class InvalidTransition(Exception):
    """An event that the state machine does not allow from the order's current status."""

    def __init__(self, status: OrdStatus | None, event_type: type) -> None:
        self.status = status
        self.event_type = event_type
        shown = status.value if status else "no order"
        super().__init__(f"{event_type.__name__} is not allowed from {shown}")


def is_allowed(status: OrdStatus | None, event_type: type) -> bool:
    return (status, event_type) in TRANSITIONS


def target_of(status: OrdStatus | None, event_type: type) -> Target:
    """The table's target for this pair; raises InvalidTransition when there is none."""
    try:
        return TRANSITIONS[(status, event_type)]
    except KeyError:
        raise InvalidTransition(status, event_type) from None
