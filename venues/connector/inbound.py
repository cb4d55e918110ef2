"""In: execution reports (35=8) and cancel rejects (35=9) become engine commands.

A report answering a mass cancel comes under the mass cancel's ClOrdID: `own_report` (the mass
cancel part's) first gives it its order's own cancel's ClOrdID, so it books as any cancel's.

The engine deduplicates them on ExecID (prefixed with the venue) and also ignores a Trade whose
venue CumQty is already booked. They leave the quickfix thread through one queue, in the order
they came, and one thread hands them to the engine, retrying each until it is answered: a report
is never dropped because the engine was restarting.

A venue's refusal of a ClOrdID it already has (103=6 / 102=6) is our resend of something it is
working: nothing to book; the order's status is asked for instead (`on_duplicate`).

This module is the one place a parsed report (venues/fix/orders.py) becomes an engine command.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import quickfix as fix

from orders import bus
from orders.domain import commands as cmd
from orders.domain.values import DONE_STATUSES, ExecType, RequestKind
from venues.connector.application import Ignored
from venues.connector.link import VenueLink
from venues.fix import tables
from venues.fix.messages import getter
from venues.fix.orders import (
    CancelReject,
    ExecutionReport,
    parse_cancel_reject,
    parse_execution_report,
    parse_venue_cl_ord_id,
)

log = logging.getLogger("oms.connector")


@dataclass(frozen=True)
class Duplicate:
    """The venue refused a resend because it has the original: nothing to book; ask its status."""

    order_id: int


def execution_report_command(venue: str, report: ExecutionReport) -> cmd.ApplyExecutionReport | Duplicate:
    """35=8 as the engine command that books it. Raises Ignored."""
    order_id, cl_ord_id = _ours(report.cl_ord_id)
    # A code outside FIX 4.4 is not dropped: it reaches the order as an anomaly that names it.
    unrecognised = "; ".join(
        f"{tag}={value!r} ({name})"
        for tag, value, name in ((150, report.unknown_exec_type, "ExecType"), (39, report.unknown_ord_status,
                                                                                  "OrdStatus"))
        if value is not None
    )  # fmt: skip
    exec_type = report.exec_type or ExecType.UNKNOWN
    if exec_type is ExecType.REJECTED and report.reject_reason == "duplicate_cl_ord_id":
        return Duplicate(order_id)
    if exec_type is ExecType.ORDER_STATUS:
        # A status answer has no ExecID of its own worth keeping: name it by what it says, so
        # the same answer twice is one reconciliation.
        ord_status = tables.ORD_STATUS_TO_FIX.get(report.ord_status) if report.ord_status else None
        exec_id = f"{venue}:status:{report.order_id or 'NONE'}:{report.cum_qty}:{ord_status}:{cl_ord_id}"
    else:
        exec_id = f"{venue}:{report.exec_id}"
    return cmd.ApplyExecutionReport(
        command_id=f"{venue}:{report.exec_id}:{time.time_ns()}",
        received_at_ns=time.time_ns(),
        actor=f"venue:{venue}",
        order_id=order_id,
        exec_id=exec_id,
        exec_type=exec_type,
        last_qty=report.last_qty,
        last_px=report.last_px,
        cl_ord_id=cl_ord_id,
        quantity=report.order_qty,
        limit_price=report.price,
        text=report.text[:500],
        cum_qty=report.cum_qty,
        avg_px=report.avg_px,
        ord_status=report.ord_status,
        unknown_order=exec_type is ExecType.ORDER_STATUS and report.reject_reason == "unknown_order",
        ref_exec_id=f"{venue}:{report.exec_ref_id}" if report.exec_ref_id else None,  # as its fill's was named
        venue_order_id=report.order_id if report.order_id and report.order_id != "NONE" else None,
        unrecognised=unrecognised,
        asked_after=_asked_after(report.ord_status_req_id),
    )


def _asked_after(ord_status_req_id: str | None) -> str | None:
    """790 as our status request set it (`<order id>:<ClOrdID sent again before asking>`)."""
    parsed = parse_venue_cl_ord_id(ord_status_req_id)
    return parsed[1] if parsed else None


def cancel_reject_command(venue: str, reject: CancelReject) -> cmd.ApplyCancelReject | Duplicate:
    """35=9 as the engine command that books it. Raises Ignored."""
    order_id, cl_ord_id = _ours(reject.cl_ord_id)
    if reject.reason == "duplicate_cl_ord_id":
        return Duplicate(order_id)
    return cmd.ApplyCancelReject(
        command_id=f"{venue}:9:{time.time_ns()}",
        received_at_ns=time.time_ns(),
        actor=f"venue:{venue}",
        order_id=order_id,
        cl_ord_id=cl_ord_id,
        reason=reject.reason,
        text=reject.text[:500],
        response_to=RequestKind(reject.response_to) if reject.response_to else None,  # 434
    )


def _ours(venue_cl_ord_id: str | None) -> tuple[int, str]:
    """(order id, client ClOrdID) of a report about one of our orders. Raises Ignored."""
    parsed = parse_venue_cl_ord_id(venue_cl_ord_id)
    if parsed is None:
        raise Ignored(f"ClOrdID {venue_cl_ord_id!r} is not one of ours")
    return parsed


DELIVER_BATCH_MAX = 500  # reports handed to the engine at once


class Flushed(threading.Event):
    """A marker in the queue: set once every report queued before it has been answered by the
    engine (booked and committed). Reconciliation waits on one before it reads the OMS side."""


class Inbound:
    """The reports' way to the engine: booked on quickfix's thread, delivered by `deliver`'s."""

    def __init__(
        self,
        stopped: threading.Event,
        on_duplicate: Callable[[VenueLink, int], None],
        own_report: Callable[[str, ExecutionReport], ExecutionReport],
    ) -> None:
        self.stopped = stopped
        self.on_duplicate = on_duplicate  # (link, order id): ask the venue where the order stands
        self.own_report = own_report  # (venue, report): a mass cancel's report as its order's cancel's
        self.outbox: queue.Queue[cmd.Command | Flushed] = queue.Queue()

    def on_execution_report(self, link: VenueLink, message: fix.Message) -> None:
        report = self.own_report(link.name, parse_execution_report(getter(message)))
        self._book(link, execution_report_command(link.name, report))

    def on_cancel_reject(self, link: VenueLink, message: fix.Message) -> None:
        reject = parse_cancel_reject(getter(message))
        command = cancel_reject_command(link.name, reject)
        self._book(link, command)
        if isinstance(command, cmd.ApplyCancelReject) and reject.ord_status in DONE_STATUSES:
            # "Too late: the order is filled" about an order we still hold open means a report of
            # ours was lost: ask now rather than at the next resync, which a busy order may dodge.
            self.on_duplicate(link, command.order_id)

    def _book(self, link: VenueLink, item: cmd.Command | Duplicate) -> None:
        if isinstance(item, Duplicate):
            # Our resend of something the venue has: it is working the original. Ask where it stands.
            self.on_duplicate(link, item.order_id)
            return
        self.outbox.put(item)

    def flush(self, timeout: float) -> bool:
        """Wait until every report received so far is booked; False if `timeout` passed first."""
        marker = Flushed()
        self.outbox.put(marker)
        return marker.wait(timeout)

    def deliver(self) -> None:
        """Hand reports to the engine in arrival order, retrying until they are answered: all
        that queued meanwhile at once (one round trip, and the engine takes them in one commit),
        so a burst (a mass cancel's thousand reports) costs a few commits, not a thousand."""
        while not self.stopped.is_set():
            try:
                items = [self.outbox.get(timeout=0.5)]
            except queue.Empty:
                continue
            while len(items) < DELIVER_BATCH_MAX and not isinstance(items[-1], Flushed):
                try:
                    items.append(self.outbox.get_nowait())
                except queue.Empty:
                    break
            # A marker ends the batch: it is set once what came before it is answered.
            batch = [item for item in items if not isinstance(item, Flushed)]
            if not batch:
                for item in items:
                    item.set()  # type: ignore[union-attr]
                continue
            backoff = 0.2
            while not self.stopped.is_set():
                try:
                    # Sent again whole after a timeout: the engine books each ExecID once.
                    replies = bus.send_many(batch, timeout=5)
                    break
                except bus.EngineUnavailable as exc:
                    log.warning("engine unavailable (%s); retrying %d venue reports in %.1fs", exc, len(batch),
                                backoff)  # fmt: skip
                    self.stopped.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
            else:
                return
            for command, reply in zip(batch, replies, strict=True):
                if reply.get("outcome") in ("error", "anomaly"):
                    log.warning("%s: %s %s: %s", command.actor, reply.get("outcome"), reply.get("reason"),
                                reply.get("text"))  # fmt: skip
            if isinstance(items[-1], Flushed):
                items[-1].set()
