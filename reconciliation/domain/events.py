"""Reconciliation events: breaks between the OMS's books and a venue's, and how each closed.

They are in the log on their own stream (stream_type RECONCILIATION_STREAM, stream id = the
break's id), like the risk controls' events: a break's whole life reads from its stream, and the
log's `actor` says who resolved it. A break closes once: cleared (the next run found the
difference gone, or changed), or resolved by a person with a reason. Accepting the venue's figure
books a `PositionAdjusted` on the break's stream first: an explicit adjustment of the OMS's
position, never an invented fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

RECONCILIATION_STREAM = "reconciliation"


@dataclass(frozen=True, slots=True)
class ReconciliationBreak:
    """A reconciliation run found the OMS and a venue differing, beyond the threshold.

    Position breaks: the net quantities (long positive), per venue, account and symbol.
    Order breaks: the order's status and cumulative quantity on each side ("missing" and None
    for the side that does not have it open)."""

    stream_id: int  # the break's id
    at_ns: int
    kind: str  # position | order
    venue: str
    account: str
    subject: str  # the symbol (position), or the OMS order id (order)
    oms_quantity: Decimal | None  # net position, or the order's cum qty
    venue_quantity: Decimal | None
    oms_status: str  # order breaks: the order's status at the OMS; "" for positions
    venue_status: str
    venue_price: Decimal | None  # positions: the venue's settlement price (730), what an adjustment costs at
    text: str
    run_id: str


@dataclass(frozen=True, slots=True)
class ReconciliationBreakCleared:
    """The break closed by itself: the next run found no difference (a fill in flight), or a
    different one, which `superseded_by` holds now."""

    stream_id: int
    at_ns: int
    text: str
    superseded_by: int | None
    run_id: str


@dataclass(frozen=True, slots=True)
class PositionAdjusted:
    """The OMS's position at a venue, account and symbol moved by `quantity` to the venue's
    figure, as a person accepted it (the log's actor) for `reason`. Not a fill: no order, no
    trade; the positions projection and the next reconciliation count it."""

    stream_id: int  # the break it settles
    at_ns: int
    venue: str
    account: str
    symbol: str
    quantity: Decimal  # signed: what is added to the OMS's net position
    price: Decimal | None  # what opened quantity costs (the venue's settlement price); None: at cost
    reason: str


@dataclass(frozen=True, slots=True)
class ReconciliationBreakResolved:
    """A person (the log's actor) resolved the break: `accepted` the venue's figure (a
    PositionAdjusted precedes this on the stream) or `dismissed` it, for `reason`."""

    stream_id: int
    at_ns: int
    resolution: str  # accepted | dismissed
    reason: str


ReconciliationEvent = ReconciliationBreak | ReconciliationBreakCleared | PositionAdjusted | ReconciliationBreakResolved

RECONCILIATION_EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (ReconciliationBreak, ReconciliationBreakCleared, PositionAdjusted, ReconciliationBreakResolved)
}
