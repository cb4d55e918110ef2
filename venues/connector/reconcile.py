"""Reconciliation, the connector's part: ask a venue for its side of the books and hand the
answer over. Comparing and recording breaks is reconciliation/services.py's, driven by a Celery
beat task (and `manage.py reconcile_venues`); nothing here decides anything.

A request comes on the bus channel REQUEST_CHANNEL: `{"request_id", "venue", "accounts",
"within"}` (seconds the service waits). For it the connector, once the venue's outbound tailer
has sent everything committed so far (so an order the OMS accepted is at the venue before the
question):

- sends a RequestForPositions (35=AN) per account (1 Account), and collects the PositionReports
  (35=AP, one per symbol, 727 saying how many) or the RequestForPositionsAck (35=AO: none);
- sends one OrderMassStatusRequest (35=AF, 585=7 all orders) and collects the ExecutionReports
  answering it (150=I, 584 echoed, 911 TotNumReports, 912=Y on the last; 911=0: none open);
- asks again, with new ids (710, 584), for what is still not completely answered, up to
  ASK_ATTEMPTS times within the time the service gives it: over a lossy line an answer, or a
  piece of one, may be lost or gap-filled on a resend (venues/simulator/fix_app.py gap-fills
  position answers);
- then waits until every report the venue sent before its answers has been booked by the engine
  (a marker through the inbound queue, `Inbound.flush`), and notes how far the log is then
  (`as_of_position`): the OMS side is read as of that position, so a fill in flight on the way
  in is not a break, and a fill after the answer is not counted against it.

The answer is written to `answer_key(request_id, venue)` (JSON, ANSWER_TTL_SECONDS): the
accounts completely answered (`accounts_answered`) and their positions, the open orders if their
answer is complete (`orders_complete`), and what is missing named in `incomplete`. A part not
completely answered is never passed on as "nothing there". A venue whose session is down
answers `"state": "down"`.
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
from django.conf import settings

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
ASK_ATTEMPTS = 3  # questions per part at most: the first, and again while an answer is missing
MIN_ASK_SECONDS = 1.0  # for the venue's answers, however short the service's patience
FLUSH_WAIT_SECONDS = 5.0  # for the engine to book what came before them
PUBLISH_MARGIN_SECONDS = 1.0  # kept for writing the answer before the service stops waiting


def answer_key(request_id: str, venue: str) -> str:
    return bus.key(f"reconcile:answer:{request_id}:{venue}")


def request(request_id: str, venue: str, accounts: list[str], within: float) -> None:
    """Ask the running connector for `venue`'s side, to be answered `within` seconds
    (reconciliation/services.py calls this)."""
    message = json.dumps({"request_id": request_id, "venue": venue, "accounts": accounts, "within": within})
    bus.client().publish(bus.key(REQUEST_CHANNEL), message)


def read_answer(request_id: str, venue: str) -> dict[str, Any] | None:
    raw = bus.client().get(answer_key(request_id, venue))
    return json.loads(raw) if raw else None


@dataclass
class Collecting:
    """One request's answers at one venue, over every attempt at asking. Guarded by
    `Reconciliation._lock` (quickfix's thread adds, the asking thread reads).

    Each attempt asks with ids of its own (PosReqID 710, MassStatusReqID 584), so an answer
    always says which question it answers. An account counts as answered once one of its
    questions has had every report it announced (727), or a RequestForPositionsAck (35=AO)
    saying it holds none; the open orders once one mass status question has had every report
    it announced (911). The first complete answer of each part is the one used: a late one to
    an earlier attempt is as good as the answer to the last. A part answered in pieces only
    (a report lost on the way) counts as not answered: it is never taken for "nothing there".
    """

    venue: str
    accounts: list[str]
    asked_positions: dict[str, str] = field(default_factory=dict)  # PosReqID -> the account it asked about
    reports: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # PosReqID -> symbol -> position
    answered: dict[str, str] = field(default_factory=dict)  # account -> the PosReqID completely answered
    refused: dict[str, str] = field(default_factory=dict)  # account -> why the venue would not answer
    orders_by_request: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)  # 584 -> by 11
    orders_answer: str | None = None  # the MassStatusReqID completely answered
    unreadable: list[str] = field(default_factory=list)
    complete: threading.Event = field(default_factory=threading.Event)

    @property
    def unanswered_accounts(self) -> list[str]:
        return [a for a in self.accounts if a not in self.answered and a not in self.refused]

    @property
    def positions(self) -> list[dict[str, str]]:
        """The positions of the accounts completely answered, from that answer only."""
        return [p for a, pos_req_id in self.answered.items() for p in self.reports.get(pos_req_id, {}).values()]

    @property
    def orders(self) -> list[dict[str, str | None]]:
        return list(self.orders_by_request[self.orders_answer].values()) if self.orders_answer else []

    def check(self) -> None:
        if self.orders_answer is not None and not self.unanswered_accounts:
            self.complete.set()

    def take_position(self, pos_req_id: str, message: fix.Message) -> None:
        """35=AP (one symbol) or 35=AO (none, or refused)."""
        account = self.asked_positions.get(pos_req_id)
        if account is None or account in self.answered:
            return
        if message.getHeader().getField(35) == "AO":
            result = message.getField(728) if message.isSetField(728) else ""
            if result in ("0", "2"):  # 2: no positions
                self.answered[account] = pos_req_id
            else:  # refused: the venue will not say, which is not "nothing"
                text = message.getField(58) if message.isSetField(58) else ""
                self.refused[account] = f"positions of {account}: refused (728={result}) {text}".strip()
            self.check()
            return
        report = parse_position_report(message)
        try:
            net = Decimal(report.long_qty or "0") - Decimal(report.short_qty or "0")
            total = int(report.total_reports or "1")
        except (InvalidOperation, ValueError):
            self.unreadable.append(f"positions of {account}: unreadable report for {report.symbol}")
            return  # never complete, then: the account stays unanswered
        price = message.getField(730) if message.isSetField(730) else ""
        symbol = report.symbol or "?"
        answer = self.reports.setdefault(pos_req_id, {})
        answer[symbol] = {"account": account, "symbol": symbol, "quantity": str(net), "price": price}
        if len(answer) >= total:  # one per symbol: a report sent twice counts once
            self.answered[account] = pos_req_id
        self.check()

    def take_order(self, report: ExecutionReport) -> None:
        """One 35=8 answering a mass status request of ours (584)."""
        request = report.mass_status_req_id or ""
        if self.orders_answer is not None or request not in self.orders_by_request:
            return
        answer = self.orders_by_request[request]
        if report.total_reports == 0:  # none open
            self.orders_answer = request
            self.check()
            return
        ours = parse_venue_cl_ord_id(report.cl_ord_id)
        answer[report.order_id or report.cl_ord_id] = {
            "order_id": str(ours[0]) if ours else None, "cl_ord_id": report.cl_ord_id,
            "venue_order_id": report.order_id, "account": report.account or "", "symbol": report.symbol or "",
            "status": report.ord_status.value if report.ord_status else "unknown",
            "cum_qty": str(report.cum_qty if report.cum_qty is not None else 0),
        }  # fmt: skip
        # Every report announced (911), not just the last flagged (912=Y): one may be lost between.
        if report.total_reports is not None and len(answer) >= report.total_reports:
            self.orders_answer = request
        self.check()

    def incomplete(self) -> list[str]:
        """What the answer misses, for people."""
        missing = [a for a in self.accounts if a not in self.answered and a not in self.refused]
        return (
            list(self.refused.values()) + self.unreadable
            + ([f"no complete position answer for {', '.join(missing)}"] if missing else [])
            + ([] if self.orders_answer else ["no complete mass status answer"])
        )  # fmt: skip


class Reconciliation:
    def __init__(
        self,
        links: dict[str, VenueLink],
        stopped: threading.Event,
        *,
        outbound_caught_up: Callable[[VenueLink, int], bool],  # (link, log position): sent up to it?
        flush_inbound: Callable[[float], bool],  # (timeout): every report received so far booked?
        last_position: Callable[[], int] = store.last_position,
    ) -> None:
        self.links = links
        self.stopped = stopped
        self.outbound_caught_up = outbound_caught_up
        self.flush_inbound = flush_inbound
        self.last_position = last_position
        # By the id each question was asked with: ids are unique per venue and attempt, so two
        # venues answering the same run never meet here.
        self._by_pos_req_id: dict[str, Collecting] = {}
        self._by_mass_status_req_id: dict[str, Collecting] = {}
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
                    within = float(wanted.get("within", settings.OMS_RECONCILE_ANSWER_SECONDS))
                except (ValueError, KeyError, TypeError):
                    log.warning("reconciliation request not understood: %r", message.get("data"))
                    continue
                link = self.links.get(venue)
                if link is not None:
                    spawn(self.answer, link, str(request_id), [str(a) for a in accounts], within,
                          name=f"reconcile-{venue}")  # fmt: skip
        finally:
            pubsub.close()

    def answer(self, link: VenueLink, request_id: str, accounts: list[str], within: float) -> None:
        """Ask the venue, wait for its answers and for the engine, and publish them. Off quickfix's thread."""
        try:
            payload = self.ask(link, request_id, accounts, within)
        except Exception as exc:  # a failed answer is one the service reports, never a dead connector
            log.exception("%s: reconciliation request %s failed", link.name, request_id)
            payload = {"state": "error", "detail": str(exc)}
        payload |= {"request_id": request_id, "venue": link.name}
        bus.client().set(answer_key(request_id, link.name), json.dumps(payload), ex=ANSWER_TTL_SECONDS)

    def ask(self, link: VenueLink, request_id: str, accounts: list[str], within: float) -> dict[str, Any]:
        """The venue's side, asked again (new ids) for what is still missing while there is time:
        a line that loses or gap-fills messages may lose an answer, and an answer in pieces is no
        answer. What is still missing at the end is named in `incomplete`; the caller compares
        only what was answered completely."""
        if not link.up.is_set():
            return {"state": "down", "detail": link.detail or link.state}
        started = time.monotonic()
        # The service waits `within` seconds for the whole answer: leave time to flush and to publish.
        asking_until = started + max(within - FLUSH_WAIT_SECONDS - PUBLISH_MARGIN_SECONDS, MIN_ASK_SECONDS)
        if not self.outbound_caught_up(link, self.last_position()):
            log.warning("%s: the outbound tailer is behind; reconciling all the same", link.name)
        collecting = Collecting(link.name, accounts)
        asked_ns = time.time_ns()
        try:
            for attempt in range(ASK_ATTEMPTS):
                remaining = asking_until - time.monotonic()
                if remaining <= 0 or self.stopped.is_set() or not link.up.wait(remaining):
                    break
                if attempt:
                    log.info("%s: reconciliation %s asking again (attempt %d): %s", link.name, request_id,
                             attempt + 1, "; ".join(collecting.incomplete()))  # fmt: skip
                self._ask_once(link, collecting, f"{request_id}:{link.name}:{attempt}")
                wait = (asking_until - time.monotonic()) / (ASK_ATTEMPTS - attempt)
                if collecting.complete.wait(max(wait, 0)):
                    break
        finally:
            with self._lock:
                for ids in (self._by_pos_req_id, self._by_mass_status_req_id):
                    for key in [k for k, c in ids.items() if c is collecting]:
                        del ids[key]
        flushed = self.flush_inbound(FLUSH_WAIT_SECONDS)
        with self._lock:
            incomplete = collecting.incomplete()
            answered = [a for a in accounts if a in collecting.answered]
            positions, orders, orders_complete = collecting.positions, collecting.orders, bool(collecting.orders_answer)
        if not flushed:  # the OMS's side may lack what the venue counted: compare nothing this time
            incomplete.append("the engine did not book the venue's earlier reports in time")
            answered, orders_complete = [], False
        return {
            "state": "answered", "asked_ns": asked_ns, "as_of_position": self.last_position(),
            "as_of_ns": time.time_ns(), "accounts": accounts, "accounts_answered": answered, "positions": positions,
            "orders": orders, "orders_complete": orders_complete, "incomplete": incomplete,
        }  # fmt: skip

    def _ask_once(self, link: VenueLink, collecting: Collecting, ask_id: str) -> None:
        """Ask for the parts not answered yet, under ids of this attempt."""
        with self._lock:
            accounts = collecting.unanswered_accounts
            pos_req_ids = {f"{ask_id}:{index}": account for index, account in enumerate(accounts)}
            collecting.asked_positions |= pos_req_ids
            for pos_req_id in pos_req_ids:
                self._by_pos_req_id[pos_req_id] = collecting
            orders_wanted = collecting.orders_answer is None
            if orders_wanted:
                collecting.orders_by_request[ask_id] = {}
                self._by_mass_status_req_id[ask_id] = collecting
        business_date = datetime.now(UTC).strftime("%Y%m%d")
        for pos_req_id, account in pos_req_ids.items():
            link.send(request_for_positions_message(pos_req_id, account, business_date))
        if orders_wanted:
            link.send(order_mass_status_request_message(ask_id))

    def on_position_answer(self, link: VenueLink, message: fix.Message) -> None:
        """35=AP or 35=AO, on quickfix's thread."""
        pos_req_id = getter(message)(710) or ""
        with self._lock:
            collecting = self._by_pos_req_id.get(pos_req_id)
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
            collecting = self._by_mass_status_req_id.get(report.mass_status_req_id or "")
            if collecting is not None and collecting.venue == link.name:
                collecting.take_order(report)
