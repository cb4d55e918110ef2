"""Mass cancels sent (35=q) and not yet answered: which order each of the venue's reports is about.

A venue answers an OrderMassCancelRequest with one ExecutionReport per order it cancels, under
the mass cancel's ClOrdID (11) and naming the order's own ClOrdID in 41, and one
OrderMassCancelReport (35=r). The engine settles an order's pending cancel by that cancel's own
ClOrdID, so a report answering a mass cancel is read here as the answer to the order's cancel.

Bounded. An order's entry goes when its report comes; the orders a 35=r does not name go with it
(the venue did not cancel them: filled, say, so no report under the mass ClOrdID is coming); a
refused mass cancel goes whole, handed back to be canceled order by order; beyond MAX_PENDING the
oldest goes. A report whose entry is gone still names its order in 41, and is read by that: the
engine books the cancel all the same, only not as the answer to the pending request's ClOrdID.

Pure and thread-safe: the sender adds on its own thread, quickfix's thread reads the answers.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from orders.domain.values import DONE_STATUSES
from venues.fix.orders import ExecutionReport, MassCancelReport, parse_venue_cl_ord_id, venue_cl_ord_id

log = logging.getLogger("oms.connector")

MAX_PENDING = 32  # mass cancels awaiting their reports, across venues; a kill switch sends one per venue


def new_mass_cl_ord_id() -> str:
    """A ClOrdID for a mass cancel: unique, and never read as an order's (no `<order id>:` head)."""
    return f"MC-{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True)
class MassCancelTarget:
    """An order a mass cancel is meant to cancel."""

    order_id: int
    cl_ord_id: str  # the order's ClOrdID at the venue now: what the venue's report names in 41
    cancel_cl_ord_id: str  # the ClOrdID of the cancel request the OMS recorded for it

    @property
    def at_venue(self) -> str:
        return venue_cl_ord_id(self.order_id, self.cl_ord_id)


class PendingMassCancels:
    def __init__(self, limit: int = MAX_PENDING) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        # (venue, mass ClOrdID) -> {the order's ClOrdID at the venue (41): target}, oldest first
        self._pending: OrderedDict[tuple[str, str], dict[str, MassCancelTarget]] = OrderedDict()

    def add(self, venue: str, mass_cl_ord_id: str, targets: Iterable[MassCancelTarget]) -> None:
        """Call before the request is sent: its reports can come before the send returns."""
        with self._lock:
            self._pending[(venue, mass_cl_ord_id)] = {t.at_venue: t for t in targets}
            while len(self._pending) > self._limit:
                (old_venue, old), left = self._pending.popitem(last=False)
                log.warning("%s: mass cancel %s forgotten with %d orders unanswered: their reports are read by "
                            "the order they name", old_venue, old, len(left))  # fmt: skip

    def discard(self, venue: str, mass_cl_ord_id: str) -> None:
        """The request never left."""
        with self._lock:
            self._pending.pop((venue, mass_cl_ord_id), None)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(targets) for targets in self._pending.values())

    def own_report(self, venue: str, report: ExecutionReport) -> ExecutionReport:
        """`report` as the engine reads it. One answering a mass cancel (11 the mass ClOrdID, 41 an
        order's) comes under the ClOrdID of that order's own cancel request; one under a ClOrdID
        that is not ours otherwise (a mass cancel not, or no longer, pending) under the order's
        ClOrdID from 41. Any other report is unchanged."""
        if parse_venue_cl_ord_id(report.cl_ord_id) is not None or parse_venue_cl_ord_id(report.orig_cl_ord_id) is None:
            return report
        assert report.orig_cl_ord_id is not None
        key = (venue, report.cl_ord_id or "")
        with self._lock:
            targets = self._pending.get(key, {})
            target = targets.get(report.orig_cl_ord_id)
            if target is not None and report.ord_status in DONE_STATUSES:
                del targets[report.orig_cl_ord_id]
                if not targets:
                    del self._pending[key]
        if target is None:
            return replace(report, cl_ord_id=report.orig_cl_ord_id)
        return replace(report, cl_ord_id=venue_cl_ord_id(target.order_id, target.cancel_cl_ord_id))

    def answered(self, venue: str, report: MassCancelReport) -> list[MassCancelTarget]:
        """Take in the venue's OrderMassCancelReport (35=r). Returns the orders to cancel one by one:
        all of a refused mass cancel's (a venue that cancels nothing says so); none otherwise."""
        key = (venue, report.cl_ord_id or "")
        with self._lock:
            if report.rejected:
                return list(self._pending.pop(key, {}).values())
            targets = self._pending.get(key)
            if targets is None or not (report.affected or report.total_affected == 0):
                return []  # nothing pending, or the venue did not say which: wait for the reports
            named = {order.orig_cl_ord_id for order in report.affected}
            for at_venue in [k for k in targets if k not in named]:
                del targets[at_venue]
            if not targets:
                del self._pending[key]
            return []
