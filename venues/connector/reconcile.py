"""Reconciliation, the connector's part: ask a venue for its side of the books and hand the
answer over. Comparing and recording breaks is reconciliation/services.py's, driven by a Celery
beat task (and `manage.py reconcile_venues`); nothing here decides anything.

A request comes on the bus channel REQUEST_CHANNEL: `{"request_id", "venue", "accounts"}`. For it
the connector, once the venue's outbound tailer has sent everything committed so far (so an
order the OMS accepted is at the venue before the question):

- sends a RequestForPositions (35=AN) per account (1 Account), and collects the PositionReports
  (35=AP, one per symbol, 727 saying how many) or the RequestForPositionsAck (35=AO: none);
- sends one OrderMassStatusRequest (35=AF, 585=7 all orders) and collects the ExecutionReports
  answering it (150=I, 584 echoed, 911 TotNumReports, 912=Y on the last; 911=0: none open);
- then waits until every report the venue sent before its answers has been booked by the engine
  (a marker through the inbound queue, `Inbound.flush`), and notes how far the log is then
  (`as_of_position`): the OMS side is read as of that position, so a fill in flight on the way
  in is not a break, and a fill after the answer is not counted against it.

The answer is written to `answer_key(request_id, venue)` (JSON, ANSWER_TTL_SECONDS) whole or
with what is missing named in `incomplete`. A venue whose session is down answers `"state": "down"`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import quickfix as fix

from orders import bus, store
from venues.connector.link import VenueLink
from venues.connector.threads import spawn
from venues.fix.messages import getter
from venues.fix.orders import (
    ExecutionReport,
    order_mass_status_request_message,
    parse_execution_report,
    parse_venue_cl_ord_id,
)
from venues.fix.positions import parse_position_report, request_for_positions_message

log = logging.getLogger("oms.connector")

REQUEST_CHANNEL = "reconcile:requests"
ANSWER_TTL_SECONDS = 600
ANSWER_WAIT_SECONDS = 8.0  # for the venue's answers
FLUSH_WAIT_SECONDS = 5.0  # for the engine to book what came before them


def answer_key(request_id: str, venue: str) -> str:
    return bus.key(f"reconcile:answer:{request_id}:{venue}")


def request(request_id: str, venue: str, accounts: list[str]) -> None:
    """Ask the running connector for `venue`'s side (reconciliation/services.py calls this)."""
    message = json.dumps({"request_id": request_id, "venue": venue, "accounts": accounts})
    bus.client().publish(bus.key(REQUEST_CHANNEL), message)


def read_answer(request_id: str, venue: str) -> dict[str, Any] | None:
    raw = bus.client().get(answer_key(request_id, venue))
    return json.loads(raw) if raw else None


@dataclass
class Collecting:
    """One request's answers at one venue, until the venue has sent them all. Guarded by
    `Reconciliation._lock` (quickfix's thread adds, the asking thread reads)."""

    request_id: str
    venue: str
    accounts: dict[str, str]  # PosReqID (710) -> the account it asked about
    positions: list[dict[str, str]] = field(default_factory=list)
    orders: list[dict[str, str | None]] = field(default_factory=list)
    positions_done: set[str] = field(default_factory=set)  # PosReqIDs fully answered
    position_reports: dict[str, int] = field(default_factory=dict)  # PosReqID -> reports so far
    orders_total: int | None = None
    orders_done: bool = False
    refused: list[str] = field(default_factory=list)
    complete: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.orders_done and self.positions_done >= set(self.accounts):
            self.complete.set()

    def take_position(self, pos_req_id: str, message: fix.Message) -> None:
        """35=AP (one symbol) or 35=AO (none, or refused)."""
        account = self.accounts.get(pos_req_id)
        if account is None:
            return
        if message.getHeader().getField(35) == "AO":
            result = message.getField(728) if message.isSetField(728) else ""
            if result not in ("0", "2"):  # 2: no positions; anything else: refused
                text = message.getField(58) if message.isSetField(58) else ""
                self.refused.append(f"positions of {account}: refused (728={result}) {text}".strip())
            self.positions_done.add(pos_req_id)
        else:
            report = parse_position_report(message)
            try:
                net = Decimal(report.long_qty or "0") - Decimal(report.short_qty or "0")
            except InvalidOperation:
                net = Decimal(0)
                self.refused.append(f"positions of {account}: unreadable quantity for {report.symbol}")
            price = message.getField(730) if message.isSetField(730) else ""
            self.positions.append({"account": account, "symbol": report.symbol or "?", "quantity": str(net),
                                   "price": price})  # fmt: skip
            count = self.position_reports[pos_req_id] = self.position_reports.get(pos_req_id, 0) + 1
            if count >= int(report.total_reports or 1):
                self.positions_done.add(pos_req_id)
        self.check()

    def take_order(self, report: ExecutionReport) -> None:
        """One 35=8 answering the mass status request."""
        if report.total_reports == 0:
            self.orders_done = True
            self.check()
            return
        ours = parse_venue_cl_ord_id(report.cl_ord_id)
        self.orders.append({
            "order_id": str(ours[0]) if ours else None, "cl_ord_id": report.cl_ord_id,
            "venue_order_id": report.order_id, "account": report.account or "", "symbol": report.symbol or "",
            "status": report.ord_status.value if report.ord_status else "unknown",
            "cum_qty": str(report.cum_qty if report.cum_qty is not None else 0),
        })  # fmt: skip
        self.orders_total = report.total_reports
        if report.last_report or (self.orders_total is not None and len(self.orders) >= self.orders_total):
            self.orders_done = True
        self.check()


class Reconciliation:
    def __init__(
        self,
        links: dict[str, VenueLink],
        stopped: threading.Event,
        *,
        outbound_caught_up: Callable[[VenueLink, int], bool],  # (link, log position): sent up to it?
        flush_inbound: Callable[[float], bool],  # (timeout): every report received so far booked?
    ) -> None:
        self.links = links
        self.stopped = stopped
        self.outbound_caught_up = outbound_caught_up
        self.flush_inbound = flush_inbound
        self._collecting: dict[str, Collecting] = {}  # by request id
        self._by_pos_req_id: dict[str, str] = {}  # PosReqID -> request id
        self._lock = threading.Lock()

    def run(self) -> None:
        """Answer the requests that come on the bus while the connector runs."""
        pubsub = bus.client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(bus.key(REQUEST_CHANNEL))
        try:
            while not self.stopped.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                try:
                    wanted = json.loads(message["data"])
                    request_id, venue, accounts = wanted["request_id"], wanted["venue"], list(wanted["accounts"])
                except (ValueError, KeyError, TypeError):
                    log.warning("reconciliation request not understood: %r", message.get("data"))
                    continue
                link = self.links.get(venue)
                if link is not None:
                    spawn(self.answer, link, str(request_id), [str(a) for a in accounts], name=f"reconcile-{venue}")
        finally:
            pubsub.close()

    def answer(self, link: VenueLink, request_id: str, accounts: list[str]) -> None:
        """Ask the venue, wait for its answers and for the engine, and publish them. Off quickfix's thread."""
        try:
            payload = self._ask(link, request_id, accounts)
        except Exception as exc:  # a failed answer is one the service reports, never a dead connector
            log.exception("%s: reconciliation request %s failed", link.name, request_id)
            payload = {"state": "error", "detail": str(exc)}
        payload |= {"request_id": request_id, "venue": link.name}
        bus.client().set(answer_key(request_id, link.name), json.dumps(payload), ex=ANSWER_TTL_SECONDS)

    def _ask(self, link: VenueLink, request_id: str, accounts: list[str]) -> dict[str, Any]:
        if not link.up.is_set():
            return {"state": "down", "detail": link.detail or link.state}
        if not self.outbound_caught_up(link, store.last_position()):
            log.warning("%s: the outbound tailer is behind; reconciling all the same", link.name)
        pos_req_ids = {f"{request_id}:{index}": account for index, account in enumerate(accounts)}
        collecting = Collecting(request_id, link.name, pos_req_ids)
        with self._lock:
            self._collecting[request_id] = collecting
            for pos_req_id in pos_req_ids:
                self._by_pos_req_id[pos_req_id] = request_id
        asked_ns = time.time_ns()
        try:
            business_date = datetime.now(UTC).strftime("%Y%m%d")
            for pos_req_id, account in pos_req_ids.items():
                link.send(request_for_positions_message(pos_req_id, account, business_date))
            link.send(order_mass_status_request_message(request_id))
            answered = collecting.complete.wait(ANSWER_WAIT_SECONDS)
        finally:
            with self._lock:
                self._collecting.pop(request_id, None)
                for pos_req_id in pos_req_ids:
                    self._by_pos_req_id.pop(pos_req_id, None)
        flushed = self.flush_inbound(FLUSH_WAIT_SECONDS)
        incomplete = list(collecting.refused)
        if not answered:
            missing = [pos_req_ids[p] for p in pos_req_ids if p not in collecting.positions_done]
            incomplete += [f"no complete position answer for {', '.join(missing)}"] if missing else []
            incomplete += [] if collecting.orders_done else ["no complete mass status answer"]
        if not flushed:
            incomplete.append("the engine did not book the venue's earlier reports in time")
        return {
            "state": "answered", "asked_ns": asked_ns, "as_of_position": store.last_position(),
            "as_of_ns": time.time_ns(), "accounts": accounts, "positions": collecting.positions,
            "orders": collecting.orders, "orders_complete": collecting.orders_done, "incomplete": incomplete,
        }  # fmt: skip

    def on_position_answer(self, link: VenueLink, message: fix.Message) -> None:
        """35=AP or 35=AO, on quickfix's thread."""
        pos_req_id = getter(message)(710) or ""
        with self._lock:
            collecting = self._collecting.get(self._by_pos_req_id.get(pos_req_id, ""))
            if collecting is not None and collecting.venue == link.name:
                collecting.take_position(pos_req_id, message)

    def on_execution_report(self, link: VenueLink, message: fix.Message, otherwise: Callable) -> None:
        """35=8, on quickfix's thread: one answering our mass status request (584) is ours; any
        other goes on to `otherwise` (the inbound part, to the engine)."""
        if not message.isSetField(584):
            otherwise(link, message)
            return
        report = parse_execution_report(getter(message))
        with self._lock:
            collecting = self._collecting.get(report.mass_status_req_id or "")
            if collecting is not None and collecting.venue == link.name:
                collecting.take_order(report)
