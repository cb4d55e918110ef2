"""In: a client's requests (35=D, F, G, H) to engine commands, translation only.

Parsing happens on quickfix's thread, in `fromApp`: what cannot be read raises the quickfix
exception whose session Reject (35=3) says so, and the session stays up. What can be read becomes a
job on the session's own worker (the bus waits for the engine; quickfix's thread must not), in
arrival order, so a cancel never overtakes its order.

New orders in a row go to the engine together. A new order's checks read nothing from the
database, so it need not wait for the answer to the order before it: the worker takes every new
order queued behind it, puts their commands on the bus in one round trip (the engine takes them in
one batch, in that order) and then handles the answers in order. Any other job (a cancel, which
looks its order up; a possibly resent order; a throttled message) waits until everything before it
is answered, as one at a time would have it. A client sending a burst gets an engine batch, not a
round trip, per order.

The engine's answer is not what the client is told: the reports come from the log (outbound.py),
exactly once. Only what never reaches the log is answered here: the gateway's own refusals (an
account the session may not trade, an order it does not know), the engine's refusals that record
nothing (a ClOrdID already used, the engine unreachable), and status answers (150=I).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import quickfix as fix
from django.conf import settings
from django.db import connection

from gateway.domain import tables as gw_tables
from gateway.domain.reports import ClientCancelReject, ClientReport, refused_order
from gateway.domain.strategy import routing_from_fix, tag_of
from gateway.fix.link import ClientLink
from gateway.fix.messages import cancel_reject, execution_report
from orders import bus, calendars, entry, services
from orders.domain import commands as cmd
from orders.domain.calendar import trading_day
from orders.domain.values import WORKING_STATUSES, ExecType, OrdStatus, RequestKind, Side, Strategy
from orders.models import Event, Instrument, Order
from venues.fix.messages import FixValueError, Get, business_reject_message, decimal_field, required
from venues.fix.orders import (
    AffectedOrder,
    MassCancelReport,
    NewOrder,
    order_mass_cancel_report_message,
    parse_new_order,
    parse_order_mass_cancel_request,
)
from venues.models import Venue

log = logging.getLogger("oms.gateway")

Job = Callable[[], None]
Answer = dict[str, Any]
# Engine answers that record nothing: the client hears of them from here, not from the log.
UNRECORDED = frozenset({"duplicate", "error", "expired"})
MAX_IN_FLIGHT = 500  # new orders of one session on the bus at once, answers awaited


@dataclass(frozen=True, slots=True)
class Pending:
    """A new order on its way: its command (None: refused here, nothing to send) and what the
    client is told once the engine has answered (the answer; None without a command)."""

    command: cmd.Command | None
    answered: Callable[[Answer | None], None]


@dataclass(frozen=True, slots=True)
class Submission:
    """A job that may run while the orders before it are unanswered: its `prepare` sends nothing
    itself and reads the database only for a symbol or venue KnownNames does not hold (a new one,
    or a client's mistake)."""

    prepare: Callable[[], Pending]


def session_reject(error: FixValueError) -> Exception:
    """The quickfix exception whose session Reject (35=3, 373) fits a field we cannot use."""
    text = str(error)
    if "required field missing" in text:
        return fix.FieldNotFound(error.tag)  # 373=1
    if "not a number" in text:
        return fix.IncorrectDataFormat(error.tag)  # 373=6
    return fix.IncorrectTagValue(error.tag)  # 373=5


class Worker:
    """One session's jobs, in order, on a thread of its own."""

    def __init__(self, name: str, stopped: threading.Event) -> None:
        self._jobs: queue.SimpleQueue[Job | Submission] = queue.SimpleQueue()
        self._stopped = stopped
        self._thread = threading.Thread(target=self._run, name=f"in-{name}", daemon=True)
        self._thread.start()

    def put(self, job: Job | Submission) -> None:
        self._jobs.put(job)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                job = self._jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._work(job)
            finally:
                if self._jobs.empty():
                    connection.close()  # idle: its database connection goes back to the pool

    def _work(self, job: Job | Submission) -> None:
        """This job and every one queued behind it, new orders in a row sent together."""
        pending: list[Pending] = []
        while True:
            try:
                if isinstance(job, Submission):
                    pending.append(job.prepare())
                else:
                    self._answer(pending)  # it may read what they did: they are answered first
                    job()
            except Exception:  # one request that fails must not stop the ones behind it
                log.exception("a client request failed")
            if len(pending) >= MAX_IN_FLIGHT:
                self._answer(pending)
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
        self._answer(pending)

    def _answer(self, pending: list[Pending]) -> None:
        """Send the pending commands in one round trip, then tell each its answer, in order."""
        if not pending:
            return
        answers = iter(_send_all([p.command for p in pending if p.command is not None]))
        for request in pending:
            try:
                request.answered(next(answers) if request.command is not None else None)
            except Exception:
                log.exception("a client request failed")
        pending.clear()


class KnownNames:
    """Instruments and active venues, held in memory and refreshed by the gateway's watch, so an
    order is checked without reading the database. A name not held is looked up (it may have been
    added since); one held but since switched off is the engine's to refuse, as it checks again."""

    def __init__(self) -> None:
        self.symbols: frozenset[str] = frozenset()
        self.venues: frozenset[str] = frozenset()

    def refresh(self) -> None:
        self.symbols = frozenset(Instrument.objects.values_list("symbol", flat=True))
        self.venues = frozenset(Venue.objects.filter(active=True).values_list("name", flat=True))

    def symbol_known(self, symbol: str) -> bool:
        return symbol in self.symbols or services.instrument_exists(symbol)

    def venue_active(self, name: str) -> bool:
        return name in self.venues or services.venue_active(name)


class Inbound:
    def __init__(self, stopped: threading.Event) -> None:
        self.stopped = stopped
        self.names = KnownNames()
        self.workers: dict[str, Worker] = {}
        self.handlers: dict[str, Callable[[ClientLink, fix.Message, Get], Job | Submission]] = {
            "D": self.new_order,
            "F": self.cancel,
            "G": self.replace,
            "H": self.status,
            "q": self.mass_cancel,
        }

    def lookups(self, link: ClientLink) -> entry.Lookups:
        """orders.entry's questions, answered for this session: it may trade its own accounts."""
        return entry.Lookups(self.names.symbol_known, self.names.venue_active, link.accounts.__contains__,
                             grantee=f"session {link.comp_id}")  # fmt: skip

    def receive(self, link: ClientLink, message: fix.Message, get: Get) -> None:
        """On quickfix's thread. Raises quickfix's exceptions for what the session layer refuses."""
        msg_type = message.getHeader().getField(35)
        handler = self.handlers.get(msg_type)
        if handler is None:
            raise fix.UnsupportedMessageType()  # quickfix answers 35=j, 380=3
        if not link.rate.allow(time.monotonic()):
            seq_num = message.getHeader().getField(34)
            text = f"throttled: over {link.rate.per_second} messages a second; not processed"
            job: Job | Submission = lambda: link.send_now(business_reject_message(seq_num, msg_type, "other", text))  # noqa: E731
        else:
            try:
                job = handler(link, message, get)
            except FixValueError as error:
                raise session_reject(error) from None
        worker = self.workers.get(link.comp_id)
        if worker is None:
            worker = self.workers[link.comp_id] = Worker(link.comp_id, self.stopped)
        worker.put(job)

    # -- 35=D -------------------------------------------------------------------------------------

    def new_order(self, link: ClientLink, message: fix.Message, get: Get) -> Job | Submission:
        order = parse_new_order(get)
        header = message.getHeader()
        resent = gw_tables.possibly_resent(
            header.getField(43) if header.isSetField(43) else None,
            header.getField(97) if header.isSetField(97) else None,
        )
        venue = get(100)  # 100 ExDestination: a venue of ours by name; none: the default route
        instruction = get(848)  # 848 TargetStrategyParameters: a parent order's routing (strategy.py)
        received = time.time_ns()

        def refused(account: str, reason: str, text: str) -> Pending:
            refusal = execution_report(_refused(order, account, reason, text))
            return Pending(None, lambda _: link.send_now(refusal))

        def prepare() -> Pending:
            account = order.account or link.default_account or ""
            try:
                routing = routing_from_fix(instruction) if instruction else None
            except ValueError as error:
                return refused(account, "invalid_routing", f"848 TargetStrategyParameters: {error}")
            problems = entry.submit_problems(
                account=account, cl_ord_id=order.cl_ord_id, symbol=order.symbol, quantity=order.quantity,
                order_type=order.order_type, limit_price=order.price, venue=venue, routing=routing,
                lookups=self.lookups(link),
            )  # fmt: skip
            if problems:
                return refused(account, problems[0].reason, f"{tag_of(problems[0].field)}: {problems[0].text}")
            timeout = settings.OMS_ENGINE_REPLY_TIMEOUT
            command = cmd.SubmitOrder(
                command_id=bus.new_command_id(), received_at_ns=received, actor=link.actor, account=account,
                cl_ord_id=order.cl_ord_id, symbol=order.symbol, side=order.side, quantity=order.quantity,
                order_type=order.order_type, time_in_force=order.time_in_force, limit_price=order.price,
                expires_at_ns=received + int(timeout * 1e9), venue=routing.venue if routing else venue,
                strategy=Strategy(routing.strategy) if routing else None, slices=routing.slices if routing else None,
                venues=tuple(routing.venues) if routing and routing.venues else None,
            )  # fmt: skip
            return Pending(command, lambda answer: answered(account, answer))

        def answered(account: str, answer: Answer | None) -> None:
            assert answer is not None
            if answer["outcome"] not in UNRECORDED:
                return  # accepted or rejected: in the log, and the client hears of it from there
            if answer["outcome"] == "duplicate" and resent and (existing := _order(account, order.cl_ord_id)):
                link.send_now(execution_report(status_report(existing)))
                return
            reason = "duplicate" if answer["outcome"] == "duplicate" else answer.get("reason") or "other"
            text = answer.get("text") or f"ClOrdID {order.cl_ord_id} is already used today"
            link.send_now(execution_report(_refused(order, account, reason, text)))

        if not resent:
            return Submission(prepare)

        def job() -> None:  # a possible resend looks for its order first: alone, in turn
            account = order.account or link.default_account or ""
            if account in link.accounts and (existing := _order(account, order.cl_ord_id)) is not None:
                link.send_now(execution_report(status_report(existing)))  # never a second order
                return
            pending = prepare()
            answer = _send(pending.command, settings.OMS_ENGINE_REPLY_TIMEOUT) if pending.command else None
            pending.answered(answer)

        return job

    # -- 35=F, 35=G -------------------------------------------------------------------------------

    def cancel(self, link: ClientLink, message: fix.Message, get: Get) -> Job:
        return self._request(link, get, RequestKind.CANCEL, None, None)

    def replace(self, link: ClientLink, message: fix.Message, get: Get) -> Job:
        quantity = decimal_field(get, 38)
        price = decimal_field(get, 44, optional=True)
        return self._request(link, get, RequestKind.REPLACE, quantity, price)

    def _request(self, link: ClientLink, get: Get, kind: RequestKind, quantity: Decimal | None,
                 price: Decimal | None) -> Job:  # fmt: skip
        cl_ord_id, orig_cl_ord_id = required(get, 11), required(get, 41)
        order_id, account_field = get(37), get(1)
        received = time.time_ns()

        def job() -> None:
            account = account_field or link.default_account or ""
            order = _find(link, account, orig_cl_ord_id, order_id)
            if order is None:
                link.send_now(cancel_reject(ClientCancelReject(
                    order_id=order_id or "NONE", cl_ord_id=cl_ord_id, orig_cl_ord_id=orig_cl_ord_id,
                    ord_status=OrdStatus.REJECTED, response_to=kind, cxl_rej_reason=gw_tables.cxl_rej_reason(
                        "unknown_order"), text=f"no order {orig_cl_ord_id} of this session's accounts", account=account,
                )))  # fmt: skip
                return
            stamp = (bus.new_command_id(), received, link.actor, order.account_id, order.id, cl_ord_id, orig_cl_ord_id)
            timeout = settings.OMS_ENGINE_REPLY_TIMEOUT
            command: cmd.Command
            if kind is RequestKind.CANCEL:
                command = cmd.CancelOrder(*stamp)
            else:
                command = cmd.ReplaceOrder(*stamp, quantity=quantity, limit_price=price,
                                           expires_at_ns=received + int(timeout * 1e9))  # fmt: skip
            answer = _send(command, timeout)
            if answer["outcome"] in UNRECORDED - {"duplicate"} or answer.get("reason") == "child_order":
                link.send_now(cancel_reject(ClientCancelReject(
                    order_id=str(order.id), cl_ord_id=cl_ord_id, orig_cl_ord_id=orig_cl_ord_id,
                    ord_status=OrdStatus(order.status), response_to=kind,
                    cxl_rej_reason=gw_tables.cxl_rej_reason(answer.get("reason")), text=answer.get("text") or "",
                    account=order.account_id,
                )))  # fmt: skip

        return job

    # -- 35=H -------------------------------------------------------------------------------------

    def status(self, link: ClientLink, message: fix.Message, get: Get) -> Job:
        cl_ord_id = required(get, 11)
        order_id, account_field, side = get(37), get(1), get(54)
        symbol = get(55) or "NONE"
        status_req_id = get(790)

        def job() -> None:
            account = account_field or link.default_account or ""
            order = _find(link, account, cl_ord_id, order_id)
            if order is not None:
                answer = execution_report(status_report(order))
            else:  # FIX 4.4: an unknown order's status is an OrderStatus report, rejected, 103=5
                answer = execution_report(ClientReport(
                    order_id="NONE", cl_ord_id=cl_ord_id, exec_id=_status_exec_id(), exec_type=ExecType.ORDER_STATUS,
                    ord_status=OrdStatus.REJECTED, account=account or "NONE", symbol=symbol,
                    side=Side.SELL if side == "2" else Side.BUY, order_qty=Decimal(0), price=None,
                    cum_qty=Decimal(0), leaves_qty=Decimal(0), avg_px=Decimal(0), transact_ns=time.time_ns(),
                    ord_rej_reason=gw_tables.ord_rej_reason("unknown_order"), text=f"no order {cl_ord_id}",
                ))  # fmt: skip
            if status_req_id:
                answer.setField(790, status_req_id)  # 790 OrdStatusReqID, echoed
            link.send_now(answer)

        return job

    # -- 35=q ---------------------------------------------------------------------------------------

    def mass_cancel(self, link: ClientLink, message: fix.Message, get: Get) -> Job:
        """Every working order of the session's (7: all; 1: in the symbol 55) asked to cancel, each
        as its own CancelOrder; answered by an OrderMassCancelReport (35=r) naming the orders the
        engine took the cancel of, whose PendingCancel and Canceled reports then come from the log."""
        request = parse_order_mass_cancel_request(get)
        symbol = required(get, 55) if request.request_type == "security" else None

        def job() -> None:
            if request.request_type not in MASS_CANCEL_TYPES:
                refused = MassCancelReport(_mass_id(), request.cl_ord_id, request.request_type, "rejected",
                                           "not_supported", 0, (), "served: 1 (security) and 7 (all)")  # fmt: skip
                link.send_now(order_mass_cancel_report_message(refused))
                return
            canceled = cancel_working_orders(link, symbol, request.cl_ord_id)
            affected = tuple(AffectedOrder(order.cl_ord_id, str(order.id)) for order in canceled)
            report = MassCancelReport(_mass_id(), request.cl_ord_id, request.request_type, request.request_type,
                                      None, len(affected), affected)  # fmt: skip
            link.send_now(order_mass_cancel_report_message(report))

        return job


# 530 MassCancelRequestTypes served: every order of the session's, or those in one symbol
MASS_CANCEL_TYPES = frozenset({"all", "security"})


def cancel_working_orders(link: ClientLink, symbol: str | None, cl_ord_id_prefix: str) -> list[Order]:
    """Ask the engine to cancel every working order the session placed (in `symbol`, if given);
    the orders whose cancel it took. Each cancel's ClOrdID is `<prefix>:<order id>`."""
    working = Order.objects.filter(account_id__in=link.accounts, parent_id__isnull=True,
                                   status__in=[s.value for s in WORKING_STATUSES])  # fmt: skip
    if symbol is not None:
        working = working.filter(symbol=symbol)
    orders = {o.id: o for o in working}
    mine = set(Event.objects.filter(stream_type="order", stream_version=1, actor=link.actor,
                                    stream_id__in=list(orders)).values_list("stream_id", flat=True))  # fmt: skip
    targets = [orders[i] for i in sorted(mine)]
    if not targets:
        return []
    now = time.time_ns()
    commands: list[cmd.Command] = [
        cmd.CancelOrder(
            bus.new_command_id(), now, link.actor, o.account_id, o.id, f"{cl_ord_id_prefix}:{o.id}", o.cl_ord_id
        )
        for o in targets
    ]
    try:
        answers = bus.send_many(commands, timeout=settings.OMS_ENGINE_REPLY_TIMEOUT)
    except bus.EngineUnavailable:
        log.exception("%s: cancels not taken", link.comp_id)
        return []
    return [o for o, a in zip(targets, answers, strict=True) if a["outcome"] in ("accepted", "duplicate")]


def _mass_id() -> str:
    return f"M{time.time_ns()}"


def _send(command: cmd.Command, timeout: float) -> Answer:
    try:
        return bus.send(command, timeout=timeout)
    except bus.EngineUnavailable as exc:
        return _unavailable(exc)


def _send_all(commands: list[cmd.Command]) -> list[Answer]:
    """Each command's answer, in order; one the engine did not answer in time says so."""
    if len(commands) == 1:
        return [_send(commands[0], settings.OMS_ENGINE_REPLY_TIMEOUT)]
    timeout = settings.OMS_ENGINE_REPLY_TIMEOUT
    try:
        answers = bus.send_each(commands, timeout)
    except bus.EngineUnavailable as exc:
        return [_unavailable(exc)] * len(commands)
    missing = bus.EngineUnavailable(f"no answer from the engine within {timeout:g}s")
    return [answer if answer is not None else _unavailable(missing) for answer in answers]


def _unavailable(exc: bus.EngineUnavailable) -> Answer:
    # The command carries its expiry: the engine drops it if it gets to it later.
    return {"outcome": "error", "reason": "engine_unavailable", "text": f"not taken: {exc}; send it again"}


def _refused(order: NewOrder, account: str, reason: str, text: str) -> ClientReport:
    return refused_order(f"R{time.time_ns()}", order.cl_ord_id, account or "NONE", order.symbol, order.side,
                         order.quantity, order.price, reason, text, time.time_ns())  # fmt: skip


def _status_exec_id() -> str:
    return f"S{time.time_ns()}"


def _today() -> date:
    return trading_day(time.time_ns(), calendars.oms_day())


def _order(account: str, cl_ord_id: str) -> Order | None:
    """The account's order whose current ClOrdID is this, today."""
    return Order.objects.filter(account_id=account, cl_ord_id=cl_ord_id, trading_day=_today()).first()


def _find(link: ClientLink, account: str, cl_ord_id: str, order_id: str | None) -> Order | None:
    """A request's order: by 37 OrderID (ours) when given, else by the account and ClOrdID; only
    an order of an account the session trades, never a child."""
    if order_id and order_id.isdigit():
        order = Order.objects.filter(id=int(order_id), parent_id__isnull=True).first()
    else:
        order = _order(account, cl_ord_id)
    return order if order is not None and order.account_id in link.accounts else None


def status_report(order: Order) -> ClientReport:
    """150=I from the projection: the order as it stands now."""
    return ClientReport(
        order_id=str(order.id), cl_ord_id=order.cl_ord_id, exec_id=_status_exec_id(), exec_type=ExecType.ORDER_STATUS,
        ord_status=OrdStatus(order.status), account=order.account_id, symbol=order.symbol, side=Side(order.side),
        order_qty=order.quantity, price=order.limit_price, cum_qty=order.cum_qty, leaves_qty=order.leaves_qty,
        avg_px=order.avg_px, transact_ns=order.updated_at_ns, ord_rej_reason=None, text=order.text,
    )  # fmt: skip
