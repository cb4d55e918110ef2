"""The comparison itself, pure: a venue's answer beside the OMS's books, and the differences.

Positions are compared per account and symbol (net quantity, long positive); a difference
counts when it is larger than the threshold. Open orders are compared per order: one that only
one side has open, a different status, or cumulative quantities further apart than the
threshold. The OMS's in-flight states (pending new, cancel, replace) compare as the working
status they stand on: a request on its way is not a break.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
POSITION = "position"
ORDER = "order"
MISSING = "missing"  # the status shown for the side that does not have the order open

# OMS statuses waiting on the venue, and the working status each compares as
IN_FLIGHT = frozenset({"pending_new", "pending_cancel", "pending_replace"})


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """One PositionReport (35=AP): the venue's net quantity and its settlement price (730)."""

    quantity: Decimal
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderFigure:
    """An order as one side shows it."""

    account: str
    symbol: str
    status: str  # OrdStatus value (snake case)
    cum_qty: Decimal


@dataclass(frozen=True, slots=True)
class Difference:
    """What a run found different at one venue, for one account and symbol (or one order)."""

    kind: str  # POSITION | ORDER
    venue: str
    account: str
    subject: str  # symbol, or the order id
    oms_quantity: Decimal | None
    venue_quantity: Decimal | None
    oms_status: str = ""
    venue_status: str = ""
    venue_price: Decimal | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What a break is about: the same key on the next run is the same break."""
        return (self.kind, self.venue, self.account, self.subject)

    @property
    def figures(self) -> tuple[Decimal | None, Decimal | None, str, str]:
        return (self.oms_quantity, self.venue_quantity, self.oms_status, self.venue_status)

    @property
    def text(self) -> str:
        if self.kind == POSITION:
            return (
                f"{self.venue} {self.account} {self.subject}: the OMS holds {_qty(self.oms_quantity)}, "
                f"the venue reports {_qty(self.venue_quantity)}"
            )
        return (
            f"{self.venue} {self.account} order {self.subject} ({_status(self.oms_status, self.oms_quantity)} at "
            f"the OMS, {_status(self.venue_status, self.venue_quantity)} at the venue)"
        )


def _qty(value: Decimal | None) -> str:
    return "nothing" if value is None else format(value.normalize() if value else ZERO, "f")


def _status(status: str, cum_qty: Decimal | None) -> str:
    if status == MISSING or cum_qty is None:
        return "not open"
    return f"{status.replace('_', ' ')}, {_qty(cum_qty)} filled"


def compare_positions(
    venue: str,
    accounts: Iterable[str],
    theirs: Mapping[tuple[str, str], VenuePosition],
    ours: Mapping[tuple[str, str], Decimal],
    threshold: Decimal = ZERO,
) -> list[Difference]:
    """The differences between the venue's positions and ours, for `accounts` (the accounts the
    venue was asked about), keyed (account, symbol). A symbol one side does not name is flat there."""
    asked = set(accounts)
    keys = sorted(k for k in set(theirs) | set(ours) if k[0] in asked)
    differences = []
    for account, symbol in keys:
        report = theirs.get((account, symbol))
        venue_qty = report.quantity if report else ZERO
        oms_qty = ours.get((account, symbol), ZERO)
        if abs(venue_qty - oms_qty) > threshold:
            price = report.price if report and report.price else None
            differences.append(Difference(POSITION, venue, account, symbol, oms_qty, venue_qty, venue_price=price))
    return differences


def comparable_status(figure: OrderFigure) -> str:
    """The status an order compares as: an OMS request on its way stands on the working status."""
    if figure.status in IN_FLIGHT:
        return "partially_filled" if figure.cum_qty else "new"
    return figure.status


def compare_orders(
    venue: str,
    theirs: Mapping[str, OrderFigure],
    ours_open: Mapping[str, OrderFigure],
    ours_other: Mapping[str, OrderFigure] | None = None,
    threshold: Decimal = ZERO,
) -> list[Difference]:
    """The differences between the venue's open orders (`theirs`, by OMS order id) and the OMS's
    open orders there (`ours_open`). `ours_other`: the OMS's view of orders the venue reports open
    that the OMS holds as done (canceled, filled...): the break then names both statuses."""
    other = ours_other or {}
    differences = []
    for order_id in sorted(set(theirs) | set(ours_open), key=_order_key):
        venue_figure = theirs.get(order_id)
        oms_figure = ours_open.get(order_id) or other.get(order_id)
        if venue_figure is None:
            assert oms_figure is not None
            differences.append(Difference(ORDER, venue, oms_figure.account, order_id, oms_figure.cum_qty, None,
                                          comparable_status(oms_figure), MISSING))  # fmt: skip
            continue
        if oms_figure is None:
            differences.append(Difference(ORDER, venue, venue_figure.account, order_id, None, venue_figure.cum_qty,
                                          MISSING, venue_figure.status))  # fmt: skip
            continue
        status = comparable_status(oms_figure)
        if status != venue_figure.status or abs(oms_figure.cum_qty - venue_figure.cum_qty) > threshold:
            differences.append(Difference(ORDER, venue, oms_figure.account, order_id, oms_figure.cum_qty,
                                          venue_figure.cum_qty, status, venue_figure.status))  # fmt: skip
    return differences


def _order_key(order_id: str) -> tuple[int, str]:
    return (int(order_id), "") if order_id.isdigit() else (1 << 62, order_id)
