"""The venue connector: one FIX 4.4 initiator session per venue, between the log and the venues.

Out: a `LogTailer` per venue reads committed events from the venue's durable checkpoint and
sends NewOrderSingle, OrderCancelRequest and OrderCancelReplaceRequest for the ones routed
there, so nothing reaches a venue before its event is in the log. A crash between the send
and the checkpoint sends it again under the same ClOrdID; the venue refuses the repeat as a
duplicate and we ask for the order's status instead.

In: execution reports and cancel rejects become engine commands (the engine deduplicates
them on ExecID). They leave the quickfix thread through one queue, in the order they came,
and are retried until the engine answers.

Recovery: sequence numbers are reset at every logon, so nothing is replayed at the FIX level.
Instead, at every logon (and every `resync_seconds` after) the connector asks the venue
about every order still live there (35=H), sends again what the order still waits for (the
order itself, or its pending cancel or replace, marked PossResend), and hands the status
answers to the engine, which turns what was missed into events or anomalies.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import quickfix as fix
from django.db import close_old_connections

from orders import bus, store
from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.values import OrderType, OrdStatus, Side, TimeInForce
from orders.models import Instrument, Order
from orders.tailer import LogTailer
from venues import sessions
from venues.connector import reconcile, wire
from venues.connector import sessions as fix_sessions
from venues.fix.config import session_settings
from venues.fix.messages import getter, group_getters, request_for_positions_message
from venues.models import Venue

log = logging.getLogger("oms.connector")

ROUTED_EVENTS = ("OrderAccepted", "OrderCancelRequested", "OrderReplaceRequested")
DONE = tuple(s.value for s in OrdStatus if s.is_done)
QUOTE_FLUSH_SECONDS = 1.0
CONFIGURATION_CHECK_SECONDS = 5.0


class Stopped(Exception):
    pass


class VenueLink:
    """Our session to one venue, and what we know of it."""

    def __init__(self, venue: Venue) -> None:
        self.name = venue.name
        self.target = venue.target_comp_id
        self.sender = venue.sender_comp_id
        self.session_id: fix.SessionID | None = None
        self.up = threading.Event()
        self.retired = threading.Event()  # made inactive while we run: its session stays off
        self.state = "connecting"
        self.detail = f"connecting to {venue.host}:{venue.port}"
        self.down_reason = f"cannot connect to {venue.host}:{venue.port}"
        self.resync_lock = threading.Lock()
        self.sent = 0
        self.received = 0

    def went_up(self) -> None:
        self.state, self.detail = sessions.LOGGED_ON, ""
        self.up.set()

    def went_down(self, detail: str) -> None:
        self.up.clear()
        self.state, self.detail, self.down_reason = "disconnected", detail, detail


class Connector(fix.Application):
    def __init__(
        self,
        venues: list[Venue],
        *,
        resync_seconds: float = 30.0,
        reconcile_seconds: float = 300.0,
        only: set[str] | None = None,
    ) -> None:
        super().__init__()
        self._only = only  # the venues asked for on the command line (None: every active one)
        self.restart_requested = threading.Event()
        self.reconcile_seconds = reconcile_seconds
        self._collecting: dict[str, reconcile.Collecting] = {}
        self._reconcile_lock = threading.Lock()
        self.links = {v.name: VenueLink(v) for v in venues}
        self._by_target = {link.target: link for link in self.links.values()}
        self.resync_seconds = resync_seconds
        self.stopped = threading.Event()
        self.outbox: queue.Queue[cmd.Command] = queue.Queue()
        self._quotes: dict[str, tuple[Decimal, datetime]] = {}
        self._quotes_lock = threading.Lock()
        self.tailers = [LogTailer(f"venue:{link.name}", self._router(link)) for link in self.links.values()]
        self._threads: list[threading.Thread] = []
        self._venues = venues
        self._supervisors: list[threading.Thread] = []
        self._initiator: fix.SocketInitiator | None = None

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self, state_dir: Path) -> None:
        """The workers, the initiator with every venue's session, and a supervisor per session."""
        self.start_workers()
        settings = session_settings(fix_sessions.settings_text(self._venues, state_dir), state_dir / "initiator.cfg")
        self._initiator = fix.SocketInitiator(
            self, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings)
        )
        self._initiator.start()
        for venue in self._venues:
            link = self.links[venue.name]
            supervisor = fix_sessions.Supervisor(
                venue.name, lambda link=link: link.session_id, link.up, link.retired,
                on_retry=lambda detail, link=link: self._retrying(link, detail),
            )  # fmt: skip
            thread = threading.Thread(target=supervisor.run, name=f"session-{venue.name}", daemon=True)
            thread.start()
            self._supervisors.append(thread)
            log.info("connecting to %s at %s:%d as %s -> %s", venue.name, venue.host, venue.port,
                     venue.sender_comp_id, venue.target_comp_id)  # fmt: skip

    def _retrying(self, link: VenueLink, detail: str) -> None:
        link.detail = f"{link.down_reason}; {detail}"
        self._publish_once()

    def start_workers(self) -> None:
        workers = [(t.run, f"route-{t.name}") for t in self.tailers] + [
            (self._deliver, "deliver"),
            (self._publish_sessions, "sessions"),
            (self._flush_quotes, "quotes"),
            (self._resync_periodically, "resync"),
            (self._reconcile_on_request, "reconcile"),
            (self._watch_configuration, "configuration"),
        ]
        for target, name in workers:
            thread = threading.Thread(target=_with_db(target), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.stopped.set()
        for link in self.links.values():
            link.retired.set()  # ends its supervisor
        for tailer in self.tailers:
            tailer.stop()
        for thread in self._supervisors:
            thread.join(timeout=5)
        if self._initiator is not None:
            self._initiator.stop()  # logs every session out
        for link in self.links.values():
            link.went_down("connector stopped")
        self._publish_once()

    # -- quickfix callbacks -------------------------------------------------------------------------

    def _link(self, session_id: fix.SessionID) -> VenueLink | None:
        return self._by_target.get(session_id.getTargetCompID().getValue())

    def onCreate(self, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        if link is not None:
            link.session_id = session_id

    def onLogon(self, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        if link is None:
            return
        link.went_up()
        log.info("%s: logged on (%s)", link.name, session_id.toString())
        self._publish_once()
        threading.Thread(target=_with_db(self._on_logon), args=(link,), name=f"logon-{link.name}", daemon=True).start()

    def onLogout(self, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        if link is None:
            return
        if not link.up.is_set():
            return  # a failed reconnect attempt: the first logout's time and reason stand
        log.warning("%s: session down; orders to it are refused until it is back", link.name)
        link.went_down(f"logged out at {datetime.now(UTC):%H:%M:%S} UTC")
        self._publish_once()

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        header = message.getHeader()
        if link is not None and header.getField(35) == "5" and message.isSetField(58):
            link.detail = f"venue logged us out: {message.getField(58)}"

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        if header.isSetField(43) and header.getField(43) == "Y":
            # quickfix replaying its store on a resend request: never. What the venue may
            # have missed is sent again by the tailer or the resync, which know if it still matters.
            raise fix.DoNotSend()

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        if link is None:
            return
        link.received += 1
        msg_type = message.getHeader().getField(35)
        get = getter(message)
        try:
            if msg_type == "8":
                self._book(link, wire.execution_report(link.name, get))
            elif msg_type == "9":
                self._book(link, wire.cancel_reject(link.name, get))
            elif msg_type == "W":
                self._quote(link, wire.market_data_snapshot(message.toString()))
            elif msg_type == "Y":
                log.warning("%s: market data request refused: %s", link.name, get(58))
            elif msg_type in ("AP", "AO"):
                self._position_report(link, msg_type, message)
        except wire.Ignored as exc:
            log.info("%s: report ignored: %s", link.name, exc)
        except Exception:  # a report we cannot read must not take the session down
            log.exception("%s: could not handle %s", link.name, message.toString().replace("\x01", "|"))

    # -- in: reports to the engine ------------------------------------------------------------------

    def _book(self, link: VenueLink, item: cmd.Command | wire.Duplicate) -> None:
        if isinstance(item, wire.Duplicate):
            # Our resend of something the venue has: it is working the original. Ask where it stands.
            threading.Thread(
                target=_with_db(self._resync_orders), args=(link, [item.order_id], False), daemon=True
            ).start()
            return
        self.outbox.put(item)

    def _deliver(self) -> None:
        """Hand reports to the engine in arrival order, retrying each until it is answered."""
        while not self.stopped.is_set():
            try:
                command = self.outbox.get(timeout=0.5)
            except queue.Empty:
                continue
            backoff = 0.2
            while not self.stopped.is_set():
                try:
                    reply = bus.send(command, timeout=5)
                    break
                except bus.EngineUnavailable as exc:
                    log.warning("engine unavailable (%s); retrying a venue report in %.1fs", exc, backoff)
                    self.stopped.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
            else:
                return
            if reply.get("outcome") in ("error", "anomaly"):
                log.warning("%s: %s %s: %s", command.actor, reply.get("outcome"), reply.get("reason"),
                            reply.get("text"))  # fmt: skip

    def _quote(self, link: VenueLink, quote: wire.Quote | None) -> None:
        if quote is None:
            return
        sessions.publish_book(link.name, quote.symbol, list(quote.bids), list(quote.asks))  # for the router
        if quote.reference_price is None:
            return
        with self._quotes_lock:
            self._quotes[quote.symbol] = (quote.reference_price, datetime.now(UTC))

    def _flush_quotes(self) -> None:
        """Reference prices to the database at most once a second per symbol, whatever the feed's rate."""
        while not self.stopped.wait(QUOTE_FLUSH_SECONDS):
            with self._quotes_lock:
                quotes, self._quotes = self._quotes, {}
            for symbol, (price, at) in quotes.items():
                Instrument.objects.filter(symbol=symbol).update(reference_price=price, reference_price_at=at)

    # -- out: the log to the venues -----------------------------------------------------------------

    def _router(self, link: VenueLink):
        def route(batch: list[store.StoredEvent]) -> None:
            wanted = [s for s in batch if s.event_type in ROUTED_EVENTS]
            if not wanted:
                return
            rows = Order.objects.filter(id__in={s.stream_id for s in wanted}, venue=link.name).in_bulk()
            for stored in wanted:
                order = rows.get(stored.stream_id)
                if order is None or order.status in DONE:
                    continue  # another venue's, or over already (a resend would be pointless)
                message = _message_for(stored.event, order)
                if message is not None:
                    self._send(link, message)

        return route

    def _send(self, link: VenueLink, message: fix.Message) -> None:
        """Send once the session is up; while it is down, wait (the tailer holds its place)."""
        while not link.up.wait(0.5):
            if self.stopped.is_set():
                raise Stopped(f"{link.name}: stopped while waiting for the session")
        assert link.session_id is not None
        if not fix.Session.sendToTarget(message, link.session_id):
            raise ConnectionError(f"{link.name}: the session refused the message")
        link.sent += 1

    # -- resync -------------------------------------------------------------------------------------

    def _on_logon(self, link: VenueLink) -> None:
        symbols = list(Instrument.objects.filter(active=True).values_list("symbol", flat=True))
        if symbols:
            self._send(link, wire.market_data_request(f"md-{link.name}", symbols))
        self._resync(link, min_age_seconds=0)

    def _resync_periodically(self) -> None:
        while not self.stopped.wait(self.resync_seconds):
            for link in self.links.values():
                if link.up.is_set():
                    try:
                        self._resync(link, min_age_seconds=self.resync_seconds / 2)
                    except Exception:
                        log.exception("%s: periodic resync failed", link.name)

    def _resync(self, link: VenueLink, *, min_age_seconds: float) -> None:
        cutoff = time.time_ns() - int(min_age_seconds * 1e9)
        ids = list(
            Order.objects.filter(venue=link.name, status__in=wire.LIVE_STATUSES, updated_at_ns__lte=cutoff)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if ids:
            log.info("%s: resync of %d live orders", link.name, len(ids))
            self._resync_orders(link, ids, True)

    def _resync_orders(self, link: VenueLink, order_ids: Iterable[int], resend: bool) -> None:
        with link.resync_lock:
            for order in Order.objects.filter(id__in=list(order_ids), venue=link.name).order_by("id"):
                if order.status in DONE:
                    continue
                ref = _ref(order)
                self._send(link, wire.status_request(ref))
                if resend:
                    message = _still_owed(order, ref)
                    if message is not None:
                        self._send(link, message)

    # -- position reconciliation ----------------------------------------------------------------------

    def reconcile(self, link: VenueLink) -> None:
        """Ask the venue for our positions; the answer is compared when it is complete."""
        request_id = f"rec-{link.name}-{time.time_ns()}"
        with self._reconcile_lock:
            self._collecting[request_id] = reconcile.Collecting(link.name, time.time_ns())
        business_date = datetime.now(UTC).strftime("%Y%m%d")
        self._send(link, request_for_positions_message(request_id, link.sender, business_date))

    def _position_report(self, link: VenueLink, msg_type: str, message: fix.Message) -> None:
        get = getter(message)
        request_id = get(710) or ""
        with self._reconcile_lock:
            collecting = self._collecting.get(request_id)
            if collecting is None:
                return
            long_short: tuple[str | None, str | None] = (None, None)
            if msg_type == "AP":
                instances = group_getters(message, 702, 703)
                if instances:
                    long_short = (instances[0](704), instances[0](705))
            done = collecting.take(msg_type, {55: get(55) or "", 727: get(727) or "1"}, long_short)
            if not done:
                return
            del self._collecting[request_id]
        threading.Thread(target=_with_db(self._compare), args=(collecting,), daemon=True).start()

    def _compare(self, collecting: reconcile.Collecting) -> None:
        ours = reconcile.oms_positions(collecting.venue, reconcile.start_of_day())
        result = reconcile.compare(collecting.venue, collecting.positions, ours)
        reconcile.publish(result)
        if result["matches"]:
            log.info("%s: positions reconciled: %d symbols match", collecting.venue, result["symbols"])
        else:
            log.warning("%s: positions differ from the venue's: %s", collecting.venue, result["differences"])

    def _reconcile_on_request(self) -> None:
        """Reconcile every `reconcile_seconds`, and at once when an operator asks."""
        pubsub = bus.client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(bus.key(reconcile.REQUEST_CHANNEL))
        last = time.monotonic()
        try:
            while not self.stopped.is_set():
                message = pubsub.get_message(timeout=1.0)
                wanted: str | None = None
                if message is not None:
                    wanted = str(message.get("data"))
                elif time.monotonic() - last >= self.reconcile_seconds:
                    wanted = "*"
                if wanted is None:
                    continue
                last = time.monotonic()
                for link in self.links.values():
                    if link.up.is_set() and wanted in ("*", link.name):
                        try:
                            self.reconcile(link)
                        except Exception:
                            log.exception("%s: could not ask for positions", link.name)
        finally:
            pubsub.close()

    # -- configuration --------------------------------------------------------------------------------

    def _watch_configuration(self) -> None:
        """Venue rows edited in admin take effect by a restart: the connector notices within
        seconds, says so and exits, and `make run`'s respawn starts it on the new configuration."""
        started = _configuration(self._venues)
        while not self.stopped.wait(CONFIGURATION_CHECK_SECONDS):
            now = _configuration(list(Venue.objects.filter(active=True).order_by("name")))
            if self._only is not None:
                now = {k: v for k, v in now.items() if k in self._only}
            if now == started:
                continue
            retired = set(started) - set(now)
            if all(started.get(name) == settings for name, settings in now.items()):
                # Only venues switched off: let them go and keep the others' sessions up.
                for name in sorted(retired):
                    self._retire(self.links[name])
                started = now
                continue
            log.warning("the venue configuration changed (%s -> %s); restarting to apply it",
                        sorted(started), sorted(now))  # fmt: skip
            self.restart_requested.set()
            return

    def _retire(self, link: VenueLink) -> None:
        """A venue made inactive: log out of it and stop routing to it. Its live orders stay as
        they are until it is active again (they are still working there)."""
        log.warning("%s: made inactive; logging out (its live orders stay at the venue)", link.name)
        link.retired.set()
        for tailer in self.tailers:
            if tailer.name == f"venue:{link.name}":
                tailer.stop()
        session_id = link.session_id
        if session_id is not None:
            session = fix.Session.lookupSession(session_id)
            if session is not None:
                session.logout("venue made inactive")

    # -- health -------------------------------------------------------------------------------------

    def _publish_sessions(self) -> None:
        last_stats = time.monotonic()
        while not self.stopped.wait(1.0):
            self._publish_once()
            if time.monotonic() - last_stats >= 60:
                last_stats = time.monotonic()
                for link in self.links.values():
                    log.info("%s: %s; %d messages sent, %d received", link.name, link.state, link.sent,
                             link.received)  # fmt: skip

    def _publish_once(self) -> None:
        for link in self.links.values():
            if link.retired.is_set() and not self.stopped.is_set():
                continue
            try:
                sessions.publish(link.name, link.state, link.detail)
            except Exception as exc:
                log.error("cannot publish %s's session state: %s", link.name, exc)


def _configuration(venues: list[Venue]) -> dict[str, tuple]:
    return {v.name: (v.host, v.port, v.sender_comp_id, v.target_comp_id, v.heartbeat_seconds) for v in venues}


def _ref(order: Order) -> wire.OrderRef:
    return wire.OrderRef(order.id, order.cl_ord_id, order.symbol, order.side, order.order_type, order.quantity,
                         order.limit_price)  # fmt: skip


def _message_for(event: ev.Event, order: Order) -> fix.Message | None:
    if isinstance(event, ev.OrderAccepted):
        return wire.new_order_single(event)
    ref = _ref(order)
    if isinstance(event, ev.OrderCancelRequested):
        return wire.cancel_request(event.cl_ord_id, event.orig_cl_ord_id, ref)
    if isinstance(event, ev.OrderReplaceRequested):
        return wire.replace_request(event.cl_ord_id, event.orig_cl_ord_id, event.quantity, event.limit_price, ref)
    return None


def _still_owed(order: Order, ref: wire.OrderRef) -> fix.Message | None:
    """What the order still waits for from the venue, to send again (PossResend)."""
    if order.status == OrdStatus.PENDING_NEW.value:
        accepted = ev.OrderAccepted(
            order.id, order.created_at_ns, order.account_id, order.cl_ord_id, order.symbol, Side(order.side),
            order.quantity, OrderType(order.order_type), TimeInForce(order.time_in_force), order.limit_price,
            order.venue,
        )  # fmt: skip
        return wire.new_order_single(accepted, resend=True)
    if order.status == OrdStatus.PENDING_CANCEL.value:
        return wire.cancel_request(order.pending_cl_ord_id, order.cl_ord_id, ref, resend=True)
    if order.status == OrdStatus.PENDING_REPLACE.value and order.pending_quantity is not None:
        return wire.replace_request(order.pending_cl_ord_id, order.cl_ord_id, order.pending_quantity,
                                    order.pending_limit_price, ref, resend=True)  # fmt: skip
    return None


def _with_db(target):
    """Run `target` in a thread that gives its database connection back when it ends."""

    def run(*args):
        try:
            target(*args)
        except Stopped:
            pass
        finally:
            close_old_connections()
            from django.db import connection

            connection.close()

    return run
