"""The simulated venue's FIX 4.4 acceptor: quickfix callbacks that translate and call `Venue`.
Every message is built and read in venues/fix, as the connector's are: the two sides speak one
translation.

Sequence numbers are kept for the trading day (venues/fix/config.py): a client that reconnects,
or this venue restarted, resends what the client missed on its ResendRequest. Order reports are
resent (PossDupFlag=Y); market data and position answers, stale by then, are gap-filled.

quickfix validates every message against the FIX 4.4 data dictionary before it reaches
`fromApp`, and answers malformed ones with a session-level Reject (35=3) itself. What is
well-formed but unusable (an unsupported OrdType, a negative price) gets a business answer:
an ExecutionReport with ExecType=Rejected, an OrderCancelReject, an OrderMassCancelReport with
MassCancelResponse=0 (rejected), a MarketDataRequestReject or a RequestForPositionsAck, whichever
the request expects. A market data request naming symbols
this venue does not trade gets a MarketDataRequestReject (281=0) naming them, and the rest
of it is served. `VenueApplication.handlers` is the
whole protocol: a handler and a refusal per message type; any other type gets a
BusinessMessageReject (35=j, 380=3).

Threads and order. quickfix calls back on its own threads, the built-in participants trade on
theirs (run_venue), and a market data clock and a fault clock run beside them. Whatever reads
or changes the venue (books, orders, positions, subscriptions, fault counters) does so under
`self.lock`, and so does putting the resulting messages on the sessions' outboxes: that fixes
the order in which they leave. Each session's `Outbox` sends from its own thread, outside the
lock, in the order the messages were put and none before its time (the delay_ms fault), so a
slow session never holds up the books. Nothing under `self.lock` calls into a quickfix Session
(send, logout): quickfix holds a session's mutex while it calls `onLogout`, which takes
`self.lock`, so the other order could deadlock.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

import quickfix as fix

from orders.domain.calendar import TradingCalendar
from orders.domain.values import ExecType, OrdStatus, Side
from venues.fix import orders as fix_orders
from venues.fix import tables
from venues.fix.market_data import (
    MDEntry,
    market_data_reject_message,
    market_data_snapshot_message,
    parse_market_data_request,
)
from venues.fix.messages import FixValueError, Get, business_reject_message, decimal_field, getter, required
from venues.fix.orders import (
    AffectedOrder,
    MassCancelReport,
    cancel_reject_message,
    execution_report_message,
    order_mass_cancel_report_message,
    parse_new_order,
    parse_order_mass_cancel_request,
    parse_order_mass_status_request,
)
from venues.fix.positions import (
    Position,
    PositionsRequest,
    parse_request_for_positions,
    position_report_message,
    positions_ack_message,
)
from venues.simulator import market_data
from venues.simulator.book import Side as BookSide
from venues.simulator.book import TimeInForce as BookTif
from venues.simulator.faults import REFRESH_SECONDS, FaultLoader, SessionFaults
from venues.simulator.market_data import MarketDataFeed, Snapshot
from venues.simulator.venue import CancelReject, ExecReport, MassCancel, Report, Venue

log = logging.getLogger("oms.simulator")

FAULT_TEXT = "rejected by fault injection"
# 35 MsgTypes resent (PossDupFlag=Y) when a client asks for a gap: what happened to its orders.
RESENT_TYPES = frozenset({"8", "9", "r", "j"})
# 530 MassCancelRequestTypes served: every order of the session, or those in one symbol.
MASS_CANCEL_TYPES = frozenset({"all", "security"})
MARKET_DATA_TICK = 0.05  # seconds: how often the market data clock looks for snapshots due
CLOSE_TICK = 0.2  # seconds: how often the close clock looks at the time
ZERO = Decimal(0)

Handler = Callable[[str, fix.Message, Get], None]  # (owner, message, get); raises FixValueError
Refusal = Callable[[str, fix.Message, Get, FixValueError], None]


class Outbox:
    """One session's sender thread: messages leave in the order they were put, none before its time."""

    def __init__(self, session_id: fix.SessionID, name: str) -> None:
        self.session_id = session_id
        self._queue: queue.SimpleQueue[tuple[float, fix.Message] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"outbox-{name}", daemon=True)
        self._thread.start()

    def put(self, message: fix.Message, not_before: float) -> None:
        self._queue.put((not_before, message))

    def close(self, timeout: float = 5) -> None:
        """Send what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            not_before, message = item
            wait = not_before - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                fix.Session.sendToTarget(message, self.session_id)
            except Exception:  # one message that cannot go must not stop the ones behind it
                log.exception("%s: could not send %s", self.session_id.toString(), message.toString())


class VenueApplication(fix.Application):
    def __init__(self, venue: Venue, faults: FaultLoader | None = None, *,
                 min_interval: float = market_data.MIN_INTERVAL, calendar: TradingCalendar | None = None,
                 now_ns: Callable[[], int] = time.time_ns) -> None:  # fmt: skip
        super().__init__()
        self.venue = venue
        self.calendar = calendar  # None: the venue never closes (its DAY orders rest on)
        self.now_ns = now_ns  # the close clock's time: wall time, or a rehearsal's (oms_project/clock.py)
        self.lock = threading.Lock()  # the venue, the subscriptions, the fault counters, the outboxes' order
        self.sessions: dict[str, fix.SessionID] = {}
        self.outboxes: dict[str, Outbox] = {}
        self.logged_on: set[str] = set()
        self.market_data = MarketDataFeed(min_interval)
        self.fault_loader = faults
        self.faults: dict[str, SessionFaults] = defaultdict(SessionFaults)
        self._logged_out_by_fault: dict[str, fix.Session] = {}
        self._report_ids = itertools.count(1)
        self._stop = threading.Event()
        self._clocks: list[threading.Thread] = []
        self.handlers: dict[str, tuple[Handler, Refusal]] = {
            "D": (self._new_order, self._refuse_order),
            "F": (self._cancel, self._refuse_cancel),
            "G": (self._replace, self._refuse_cancel),
            "H": (self._status, self._refuse_status),
            "q": (self._mass_cancel, self._refuse_mass_cancel),
            "V": (self._market_data_request, self._refuse_market_data),
            "AN": (self._request_for_positions, self._refuse_positions),
            "AF": (self._mass_status, self._refuse_mass_status),
        }

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the market data clock and, with a fault loader, the fault clock. Call once the
        acceptor exists (its sessions are created), before it starts accepting."""
        if self.fault_loader is not None:
            self._refresh_faults()  # in force before the first logon
            self._clock(self._fault_clock, "faults")
        self._clock(self._market_data_clock, "market-data")
        if self.calendar is not None:
            self._clock(self._close_clock, "close")

    def stop(self) -> None:
        """Stop the clocks and send what the outboxes hold. Call before stopping the acceptor."""
        self._stop.set()
        for clock in self._clocks:
            clock.join(timeout=5)
        for outbox in self.outboxes.values():
            outbox.close()

    def _clock(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"{self.venue.name}-{name}", daemon=True)
        self._clocks.append(thread)
        thread.start()

    # -- session events -------------------------------------------------------------------------------

    def onCreate(self, session_id: fix.SessionID) -> None:
        owner = session_id.getTargetCompID().getValue()
        self.sessions[owner] = session_id
        self.outboxes[owner] = Outbox(session_id, owner)

    def onLogon(self, session_id: fix.SessionID) -> None:
        with self.lock:
            self.logged_on.add(session_id.getTargetCompID().getValue())
        log.info("%s: %s logged on", self.venue.name, session_id.toString())

    def onLogout(self, session_id: fix.SessionID) -> None:
        owner = session_id.getTargetCompID().getValue()
        with self.lock:
            self.logged_on.discard(owner)
            self.market_data.end_session(owner)
            session = self._logged_out_by_fault.pop(owner, None)
        if session is not None:
            session.logon()  # logout() disabled the session: let it log on again
        log.info("%s: %s logged out", self.venue.name, session_id.toString())

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        if header.isSetField(43) and header.getField(43) == "Y" and header.getField(35) not in RESENT_TYPES:
            # quickfix replaying the day's store for a client's ResendRequest: past market data
            # and position answers are stale, so they are gap-filled, not sent again.
            raise fix.DoNotSend()

    # -- application messages: the dispatcher ---------------------------------------------------------

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        owner = session_id.getTargetCompID().getValue()
        msg_type = message.getHeader().getField(35)
        handler, refuse = self.handlers.get(msg_type, (self._unsupported, self._unsupported_refusal))
        get = getter(message)
        # Decide and queue under one lock, so messages leave in the order things happened even
        # when the market makers' thread trades at the same moment.
        with self.lock:
            try:
                handler(owner, message, get)
            except FixValueError as exc:
                refuse(owner, message, get, exc)

    # -- 35=D, F, G, H: orders ------------------------------------------------------------------------

    def _new_order(self, owner: str, message: fix.Message, get: Get) -> None:
        order = parse_new_order(get)
        side = BookSide.BUY if order.side.value == "buy" else BookSide.SELL
        price = order.price if order.order_type.value == "limit" else None
        if self.faults[owner].settings.reject_all:
            reports = self.venue.reject_new_order(owner, order.cl_ord_id, order.symbol, side, order.quantity, price,
                                                  FAULT_TEXT)  # fmt: skip
        else:
            reports = self.venue.new_order(owner, order.cl_ord_id, order.symbol, side, order.quantity, price,
                                           BookTif(order.time_in_force.value), account=order.account or "")  # fmt: skip
        self.send_all(reports)

    def _cancel(self, owner: str, message: fix.Message, get: Get) -> None:
        cl_ord_id, orig_cl_ord_id = required(get, 11), required(get, 41)
        faults = self.faults[owner].settings
        if faults.reject_all:
            self.send_all(self.venue.refuse_request(owner, cl_ord_id, orig_cl_ord_id, "cancel", FAULT_TEXT))
            return
        reports = self.venue.cancel(owner, cl_ord_id, orig_cl_ord_id)
        canceled = isinstance(reports[0], ExecReport) and reports[0].exec_type is ExecType.CANCELED
        if faults.fill_after_cancel and canceled:
            reports += self.venue.fill_after_cancel(owner, cl_ord_id)
        self.send_all(reports)

    def _replace(self, owner: str, message: fix.Message, get: Get) -> None:
        cl_ord_id, orig_cl_ord_id = required(get, 11), required(get, 41)
        quantity = decimal_field(get, 38)
        assert quantity is not None
        price = decimal_field(get, 44, optional=True)
        if self.faults[owner].settings.reject_all:
            self.send_all(self.venue.refuse_request(owner, cl_ord_id, orig_cl_ord_id, "replace", FAULT_TEXT))
            return
        self.send_all(self.venue.replace(owner, cl_ord_id, orig_cl_ord_id, quantity, price))

    def _status(self, owner: str, message: fix.Message, get: Get) -> None:
        cl_ord_id = required(get, 11)
        report = self.venue.status(owner, cl_ord_id)
        if report is None:  # FIX 4.4: an OrderStatus report of an unknown order, never ExecType=Rejected
            report = self.venue.unknown_order_status(owner, cl_ord_id, get(55) or "NONE", _side(get(54)))
        self.send(report, ord_status_req_id=get(790))

    def _refuse_order(self, owner: str, message: fix.Message, get: Get, error: FixValueError) -> None:
        self.send(ExecReport(
            owner, "NONE", get(11) or "NONE", None, self.venue.next_exec_id(), ExecType.REJECTED, OrdStatus.REJECTED,
            get(55) or "NONE", _side(get(54)), ZERO, None, ZERO, ZERO, ZERO, ZERO, ZERO, text=str(error),
            reject_reason="other",
        ))  # fmt: skip

    def _refuse_cancel(self, owner: str, message: fix.Message, get: Get, error: FixValueError) -> None:
        kind = "cancel" if message.getHeader().getField(35) == "F" else "replace"
        self.send(CancelReject(owner, "NONE", get(11) or "NONE", get(41) or "NONE", OrdStatus.REJECTED, kind, "other",
                               str(error)))  # fmt: skip

    def _refuse_status(self, owner: str, message: fix.Message, get: Get, error: FixValueError) -> None:
        self.send(self.venue.unknown_order_status(owner, get(11) or "NONE", get(55) or "NONE", _side(get(54))))

    # -- 35=q: order mass cancel --------------------------------------------------------------------

    def _mass_cancel(self, owner: str, message: fix.Message, get: Get) -> None:
        """The OrderMassCancelReport (35=r) first, as the acknowledgement, then a Canceled report
        per order (through the session's faults, as any report)."""
        request = parse_order_mass_cancel_request(get)
        if request.request_type not in MASS_CANCEL_TYPES:
            outcome = self.venue.refuse_mass_cancel(owner, request.cl_ord_id, "not_supported",
                                                    f"MassCancelRequestType {get(530)} is not served here; "
                                                    "1 (security) and 7 (all) are")  # fmt: skip
        elif self.faults[owner].settings.reject_all:
            outcome = self.venue.refuse_mass_cancel(owner, request.cl_ord_id, "other", FAULT_TEXT)
        else:
            symbol = required(get, 55) if request.request_type == "security" else None
            outcome = self.venue.mass_cancel(owner, request.cl_ord_id, symbol)
        self._put(owner, order_mass_cancel_report_message(_mass_cancel_report(outcome, request.request_type)))
        self.send_all(outcome.canceled)

    def _refuse_mass_cancel(self, owner: str, message: fix.Message, get: Get, error: FixValueError) -> None:
        reason = "unknown_security" if error.tag == 55 else "other"
        # quickfix let only a 530 of FIX 4.4's through: it has a name
        request_type = tables.MASS_CANCEL_REQUEST_TYPE_FROM_FIX[get(530) or ""]
        refused = MassCancel(owner, "NONE", get(11) or "NONE", [], reason, str(error))
        self._put(owner, order_mass_cancel_report_message(_mass_cancel_report(refused, request_type)))

    # -- 35=V: market data ----------------------------------------------------------------------------

    def _market_data_request(self, owner: str, message: fix.Message, get: Get) -> None:
        request = parse_market_data_request(message, get)
        if request.subscription == "unsubscribe":
            if not self.market_data.unsubscribe(owner, request.md_req_id):
                self._put(owner, market_data_reject_message(request.md_req_id, None,
                                                            f"no subscription {request.md_req_id} to end"))  # fmt: skip
            return
        refused = market_data.refusal(request, self.market_data.is_active(owner, request.md_req_id))
        if refused is not None:
            self._put(owner, market_data_reject_message(request.md_req_id, *refused))
            return
        unknown = market_data.unknown_symbols(request, self.venue.books)
        if unknown:
            text = f"unknown symbol {', '.join(unknown)}"
            self._put(owner, market_data_reject_message(request.md_req_id, "unknown_symbol", text))
            request = dataclasses.replace(request, symbols=tuple(s for s in request.symbols if s not in unknown))
            if not request.symbols:
                return
        if request.subscription == "snapshot":
            snapshots = self.market_data.snapshot(request, owner, self._quote)
        else:
            snapshots = self.market_data.subscribe(request, owner, self._quote, time.monotonic())
        for snapshot in snapshots:
            self._put_snapshot(snapshot)

    def _refuse_market_data(self, owner: str, message: fix.Message, get: Get, error: FixValueError) -> None:
        reason = {263: "unsupported_subscription_request_type", 264: "unsupported_market_depth"}.get(error.tag)
        self._put(owner, market_data_reject_message(get(262) or "NONE", reason, str(error)))

    def _quote(self, symbol: str, types: tuple[str, ...], depth: int) -> tuple[market_data.Entry, ...]:
        return market_data.entries(self.venue, symbol, types, depth)

    def _put_snapshot(self, snapshot: Snapshot) -> None:
        now = self.venue.clock()
        entries = [MDEntry(e.type, e.price, e.size, e.at or now) for e in snapshot.entries]
        self._put(snapshot.owner, market_data_snapshot_message(snapshot.md_req_id, snapshot.symbol, entries))

    def _market_data_clock(self) -> None:
        while not self._stop.wait(MARKET_DATA_TICK):
            with self.lock:
                for snapshot in self.market_data.due(self._quote, time.monotonic()):
                    self._put_snapshot(snapshot)

    # -- 35=AF: order mass status -------------------------------------------------------------------

    def _mass_status(self, owner: str, message: fix.Message, get: Get) -> None:
        """A status report (150=I) per open order of the session (of one account, with 1 Account),
        each with 584 echoed and 911 TotNumReports, the last with 912 LastRptRequested=Y. None open:
        one report with 911=0 and 37=NONE, so the requester knows the answer is complete."""
        request = parse_order_mass_status_request(get)
        if request.request_type != "all":
            self._put(owner, business_reject_message(
                message.getHeader().getField(34), "AF", "other",
                f"MassStatusReqType {get(585)} is not served here; 7 (all orders) is"))  # fmt: skip
            return
        reports = self.venue.open_orders(owner, request.account)
        if not reports:
            self._put(owner, execution_report_message(fix_orders.ExecutionReport(
                order_id="NONE", cl_ord_id="NONE", exec_id="0", exec_type=ExecType.ORDER_STATUS,
                ord_status=OrdStatus.REJECTED, symbol="NONE", side=Side.BUY, order_qty=None, price=None,
                last_qty=ZERO, last_px=ZERO, cum_qty=ZERO, leaves_qty=ZERO, avg_px=ZERO, text="no open orders",
                account=request.account, mass_status_req_id=request.mass_status_req_id, total_reports=0,
                last_report=True,
            )))  # fmt: skip
            return
        for index, report in enumerate(reports, start=1):
            values = dataclasses.replace(_execution_report(report), mass_status_req_id=request.mass_status_req_id,
                                         total_reports=len(reports), last_report=index == len(reports))  # fmt: skip
            self._put(owner, execution_report_message(values))

    def _refuse_mass_status(self, owner: str, message: fix.Message, get: Get, error: FixValueError) -> None:
        header = message.getHeader()
        self._put(owner, business_reject_message(header.getField(34) if header.isSetField(34) else None, "AF",
                                                 "other", str(error)))  # fmt: skip

    # -- the close ------------------------------------------------------------------------------------

    def _close_clock(self) -> None:
        assert self.calendar is not None
        day, close_ns = self.calendar.next_close(self.now_ns())
        log.info("%s: next close %s (trading day %s; %s)", self.venue.name,
                 datetime.fromtimestamp(close_ns / 1e9, tz=UTC).isoformat(), day, self.calendar.describe())  # fmt: skip
        while not self._stop.wait(CLOSE_TICK):
            now = self.now_ns()
            if now >= close_ns:
                self.close(day)
                day, close_ns = self.calendar.next_close(now)

    def close(self, day: date) -> None:
        """The close of trading day `day`: the sessions' DAY orders expire, each reported (150=C)."""
        with self.lock:
            reports = self.venue.expire_day_orders(set(self.sessions), f"DAY order expired at the close of {day}")
            self.send_all(reports)
        log.info("%s: the close of %s expired %d DAY order(s)", self.venue.name, day, len(reports))

    # -- 35=AN: positions -----------------------------------------------------------------------------

    def _request_for_positions(self, owner: str, message: fix.Message, get: Get) -> None:
        request = parse_request_for_positions(message)
        if request.pos_req_type != tables.POS_REQ_TYPE_POSITIONS:
            text = f"PosReqType {request.pos_req_type} is not served; 0 (positions) is"
            self._put(owner, positions_ack_message(request, self._report_id(), "not_supported", "rejected", text))
            return
        positions = self.venue.positions_of(owner, request.account)  # 1 Account: that account's positions
        if not positions:
            self._put(owner, positions_ack_message(request, self._report_id(), "no_positions", "completed"))
            return
        for symbol, quantity in positions.items():
            last = self.venue.last_trades.get(symbol)
            position = Position(symbol, quantity, last.price if last else ZERO)
            self._put(owner, position_report_message(request, self._report_id(), len(positions), position))

    def _refuse_positions(self, owner: str, message: fix.Message, get: Get, error: FixValueError) -> None:
        request = PositionsRequest(get(710) or "NONE", get(724) or "0", get(1) or "NONE", get(581) or "1",
                                   get(715) or "", ())  # fmt: skip
        self._put(owner, positions_ack_message(request, self._report_id(), "invalid", "rejected", str(error)))

    def _report_id(self) -> str:
        return f"{self.venue.name}-P{next(self._report_ids)}"  # 721 PosMaintRptID

    # -- anything else --------------------------------------------------------------------------------

    def _unsupported(self, owner: str, message: fix.Message, get: Get) -> None:
        header = message.getHeader()
        msg_type = header.getField(35)
        self._put(owner, business_reject_message(header.getField(34) if header.isSetField(34) else None, msg_type,
                                                 "unsupported_message_type",
                                                 f"message type {msg_type} is not supported here"))  # fmt: skip

    def _unsupported_refusal(self, owner: str, message: fix.Message, get: Get, error: FixValueError) -> None:
        self._unsupported(owner, message, get)

    # -- out: through the session's faults, onto its outbox ------------------------------------------

    def send_all(self, reports: Iterable[Report]) -> None:
        for report in reports:
            self.send(report)

    def send(self, report: Report, *, ord_status_req_id: str | None = None) -> None:
        """Queue a report for its session, as the session's faults have it. Call under self.lock.
        A built-in participant's report goes nowhere."""
        if report.owner not in self.outboxes:
            return
        if isinstance(report, CancelReject):
            self._put(report.owner, cancel_reject_message(_cancel_reject(report)))
            return
        faults = self.faults[report.owner]
        if faults.take_drop(report.symbol):
            log.info("%s: fault injection drops %s (%s) to %s", self.venue.name, report.exec_id,
                     report.exec_type.value, report.owner)  # fmt: skip
            return
        for _ in range(faults.take_copies()):
            message = execution_report_message(_execution_report(report))
            if ord_status_req_id:
                message.setField(790, ord_status_req_id)  # 790 OrdStatusReqID, echoed
            self._put(report.owner, message)
        if report.exec_type is ExecType.TRADE and report.ord_status is OrdStatus.FILLED and faults.take_bust():
            self.send_all(self.venue.bust(report))  # the fill that completed an order, busted right after

    def _put(self, owner: str, message: fix.Message) -> None:
        outbox = self.outboxes.get(owner)
        if outbox is not None:
            outbox.put(message, time.monotonic() + self.faults[owner].delay_seconds)

    # -- faults ---------------------------------------------------------------------------------------

    def _fault_clock(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            self._refresh_faults()

    def _refresh_faults(self) -> None:
        assert self.fault_loader is not None
        loaded = self.fault_loader.load(sorted(self.sessions))  # Redis: off the lock
        with self.lock:
            for owner, settings in loaded.items():
                self.faults[owner].apply(settings)
                booked = self.faults[owner].take_unreported_fill()
                if booked is not None:
                    log.warning("%s: fault injection books an unreported fill for %s: %s", self.venue.name, owner,
                                booked)  # fmt: skip
                    self.venue.book_unreported_fill(owner, *booked)
            due = [
                owner
                for owner in loaded
                if owner in self.logged_on and self.faults[owner].take_disconnect(time.monotonic())
            ]
            idle = [owner for owner in self.sessions if owner not in self.logged_on]
        for owner in due:
            session = fix.Session.lookupSession(self.sessions[owner])
            if session is None:
                continue
            with self.lock:
                self._logged_out_by_fault[owner] = session
            log.warning("%s: fault injection logs %s out", self.venue.name, owner)
            session.logout("fault injection: disconnect")
        for owner in idle:
            # A logout that came before ours leaves the session disabled with no onLogout to
            # enable it again: nothing else here disables a session, so enable any that is.
            session = fix.Session.lookupSession(self.sessions[owner])
            if session is not None and not session.isEnabled():
                session.logon()


def _side(code: str | None) -> BookSide:
    return BookSide.BUY if code == "1" else BookSide.SELL


# -- the venue's reports as FIX values (venues/fix builds the messages) ------------------------------


def _execution_report(report: ExecReport) -> fix_orders.ExecutionReport:
    return fix_orders.ExecutionReport(
        order_id=report.order_id, cl_ord_id=report.cl_ord_id, exec_id=report.exec_id, exec_type=report.exec_type,
        ord_status=report.ord_status, symbol=report.symbol, side=Side(report.side.value), order_qty=report.order_qty,
        price=report.price, last_qty=report.last_qty, last_px=report.last_px, cum_qty=report.cum_qty,
        leaves_qty=report.leaves_qty, avg_px=report.avg_px, orig_cl_ord_id=report.orig_cl_ord_id,
        reject_reason=report.reject_reason, text=report.text, exec_ref_id=report.exec_ref_id or None,
        account=report.account or None,
    )  # fmt: skip


def _mass_cancel_report(outcome: MassCancel, request_type: str) -> MassCancelReport:
    canceled = outcome.canceled
    return MassCancelReport(
        order_id=outcome.mass_id, cl_ord_id=outcome.cl_ord_id, request_type=request_type,
        response="rejected" if outcome.reject_reason else request_type, reject_reason=outcome.reject_reason,
        total_affected=len(canceled), affected=tuple(AffectedOrder(r.orig_cl_ord_id, r.order_id) for r in canceled),
        text=outcome.text,
    )  # fmt: skip


def _cancel_reject(reject: CancelReject) -> fix_orders.CancelReject:
    return fix_orders.CancelReject(reject.order_id, reject.cl_ord_id, reject.orig_cl_ord_id, reject.ord_status,
                                   reject.response_to, reject.reason, reject.text)  # fmt: skip
