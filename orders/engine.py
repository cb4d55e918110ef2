"""The engine: the only writer of events.

It reads commands from the bus in batches; for each command it deduplicates, passes the
pre-trade gate, decides, and folds the resulting events into its in-memory state at once
(so the next command in the batch sees them). Then it appends the whole batch's events,
with the projections, in ONE transaction, commits, and only after the commit answers the
senders, acknowledges the bus entries and announces the new log position. One commit
thus covers many commands under load, and nothing leaves the engine before it is durable.

If a commit fails, the in-memory state is ahead of the log: the engine throws it away and
recovers from the log (the same path as a start), and the unacknowledged bus entries are
processed again. Deduplication (ClOrdID per account and day, ExecID per order) makes that
harmless.

Two engines must never write at once: a session advisory lock, taken on the very
connection the engine writes with, is held for the engine's life. Before every commit the
engine checks that it still writes on that connection (a reconnect would have lost the
lock), and recovers (re-taking the lock) if not.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
import psycopg
import redis
from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction

from orders import bus, store
from orders.domain import cl_ord_ids, parents
from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.calendar import trading_day
from orders.domain.decide import decide
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.domain.values import Strategy, TimeInForce
from orders.models import Account, Instrument
from risk.domain import Denial, InstrumentRules, check_order, check_replace
from venues import sessions as venue_sessions
from venues.domain import router
from venues.models import Venue

log = logging.getLogger("oms.engine")

WRITER_LOCK_KEY = 0x0E5_0001  # pg_advisory_lock key of the single writer
HEARTBEAT_SECONDS = 1.0
HEALTH_TTL_SECONDS = 3  # health says the engine is gone within 3 s of its last heartbeat
REFERENCE_RELOAD_MIN_SECONDS = 1.0
REFERENCE_REFRESH_SECONDS = 5.0  # reference data (venues, instruments, accounts) is reread this often
RETRY_PAUSE_SECONDS = 1.0
MAX_CHILDREN = 50  # a parent is never re-routed beyond this many children
VENUE_SESSIONS_MAX_AGE_SECONDS = 0.2  # how stale a venue session state the engine decides on


class WriterLockHeld(Exception):
    """Another engine holds the writer lock."""


class LostWriterLock(Exception):
    """The connection that held the writer lock is gone."""


# Failures of the data itself (SQLSTATE classes 22 and 23, or what psycopg refuses to send,
# like a NUL in a text): the one command behind them is isolated and set aside. Anything
# else (a lost connection, a read-only failover, a revoked grant...) is not the command's
# fault: the batch stays pending and is retried after recovery, and nothing is set aside.
POISON_ERRORS = (DataError, IntegrityError, psycopg.DataError, psycopg.IntegrityError)


@dataclass
class Outcome:
    """What the engine answers a sender."""

    outcome: str  # accepted | rejected | duplicate | no_change | anomaly | expired | error
    order_id: int | None = None
    reason: str = ""
    text: str = ""

    def as_reply(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "order_id": self.order_id, "reason": self.reason, "text": self.text}


@dataclass
class EngineState:
    """Everything the engine decides on, rebuilt from the log at start."""

    orders: dict[int, OrderState] = field(default_factory=dict)
    # (account, trading day, ClOrdID) -> (order id, what it names: "order", "cancel" or
    # "replace"). One map: FIX wants a ClOrdID unique across orders and their requests.
    cl_ord_ids: dict[tuple[str, date, str], tuple[int, str]] = field(default_factory=dict)
    last_position: int = 0
    last_order_id: int = 0

    def fold(self, stored: store.StoredEvent, zone: str) -> None:
        event = stored.event
        self.orders[event.order_id] = apply(self.orders.get(event.order_id), event)
        self.last_position = stored.position
        self.last_order_id = max(self.last_order_id, event.order_id)
        cl_ord_id = cl_ord_ids.introduced(event)
        if cl_ord_id is not None:
            key = (stored.account, trading_day(event.at_ns, zone), cl_ord_id)
            self.cl_ord_ids.setdefault(key, (event.order_id, cl_ord_ids.named_by(event)))

    def claimed(self, account: str, cl_ord_id: str, at_ns: int, zone: str) -> tuple[int, str] | None:
        """(order id, what it names) of the ClOrdID `account` used today, or the day before if that
        was lately enough to be a retry of the same submission (cl_ord_ids.days_to_check)."""
        days = cl_ord_ids.days_to_check(at_ns, zone)
        found = self.cl_ord_ids.get((account, days[0], cl_ord_id))
        if found is None and len(days) > 1:
            found = self.cl_ord_ids.get((account, days[1], cl_ord_id))
            order = self.orders.get(found[0]) if found else None
            if order is None or order.created_at_ns < at_ns - cl_ord_ids.RETRY_WINDOW_NS:
                return None
        return found


class Engine:
    def __init__(self, *, consumer: str = "engine", batch_max: int | None = None) -> None:
        self.consumer = consumer
        self.batch_max = batch_max or settings.OMS_ENGINE_BATCH_MAX
        self.zone = settings.OMS_TRADING_DAY_TZ
        self.redis: redis.Redis = bus.client()
        self.state = EngineState()
        self.instruments: dict[str, InstrumentRules] = {}
        self.active_accounts: set[str] = set()
        self.venues: set[str] = set()
        self.default_venue: str | None = None
        self._sessions: dict[str, dict[str, Any]] = {}
        self._sessions_read_at = 0.0
        self._reference_loaded_at = 0.0
        self._locked_connection: object | None = None
        self._read_own_pending = True
        self._stopping = False
        self._health_state = "starting"
        self._last_heartbeat = 0.0
        self.stats = {"batches": 0, "commands": 0, "events": 0}
        self._window = {"batches": 0, "commands": 0, "busy": 0.0, "commit": 0.0, "started": time.monotonic()}

    # -- life cycle -------------------------------------------------------------------

    def acquire_writer_lock(self, wait: bool = False) -> None:
        announced = 0.0
        while True:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [WRITER_LOCK_KEY])
                if cursor.fetchone()[0]:
                    self._locked_connection = connection.connection
                    return
                holder = _lock_holder_pid(cursor)
            message = f"another engine holds the writer lock (PostgreSQL backend pid {holder})"
            if not wait:
                raise WriterLockHeld(message)
            if time.monotonic() - announced > 10:
                log.warning("%s; standing by until it is released", message)
                announced = time.monotonic()
            self._standby_heartbeat()
            if self._stopping:
                raise WriterLockHeld(f"{message}; stopped while standing by")
            time.sleep(0.5)

    def recover(self) -> None:
        """Rebuild the in-memory state from the log. Also the way back after a failed commit."""
        self._health_state = "recovering"
        self._heartbeat(force=True)
        if connection.connection is None or connection.connection is not self._locked_connection:
            connection.close()
            self.acquire_writer_lock(wait=True)
        started = time.monotonic()
        self.state = EngineState()
        count = 0
        for batch in store.iter_batches(batch_size=20_000):
            for stored in batch:
                self.state.fold(stored, self.zone)
            count += len(batch)
            if time.monotonic() - self._last_heartbeat > HEARTBEAT_SECONDS:
                log.info("recovering: %d events replayed", count)
                self._heartbeat(force=True)
        self._load_reference(force=True)
        self._ensure_group()
        self._read_own_pending = True
        elapsed = time.monotonic() - started
        log.info(
            "recovered %d events (%d orders) in %.2fs; last position %d; live",
            count,
            len(self.state.orders),
            elapsed,
            self.state.last_position,
        )
        self._health_state = "live"
        self._heartbeat(force=True)

    def run(self, *, max_batches: int | None = None) -> None:
        self._install_signal_handlers()
        self.recover()
        batches = 0
        while not self._stopping and (max_batches is None or batches < max_batches):
            entries = self._read()
            self._heartbeat()
            if time.monotonic() - self._reference_loaded_at > REFERENCE_REFRESH_SECONDS:
                self._load_reference(force=True)  # admin changes (venues, instruments) reach us
            if entries:
                self.process(entries)
                batches += 1
        self.shutdown()

    def stop(self) -> None:
        self._stopping = True

    def shutdown(self) -> None:
        log.info(
            "engine stopping after %d batches, %d commands, %d events",
            self.stats["batches"],
            self.stats["commands"],
            self.stats["events"],
        )
        try:
            self.redis.delete(bus.key("engine:health"))
        except redis.RedisError:
            pass
        connection.close()  # ends the session, which releases the writer lock

    def _install_signal_handlers(self) -> None:
        def on_signal(signum: int, frame: object) -> None:
            log.info("received %s; finishing the current batch", signal.Signals(signum).name)
            self.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(sig, on_signal)
            except ValueError:
                pass  # not the main thread (tests drive the engine from a thread)

    # -- the bus -------------------------------------------------------------------------

    def _ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(bus.commands_stream(), bus.GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self) -> list[bus.Envelope]:
        stream = bus.commands_stream()
        try:
            if self._read_own_pending:
                # First what this consumer took but never acknowledged (it crashed mid-batch).
                response = self.redis.xreadgroup(bus.GROUP, self.consumer, {stream: "0"}, count=self.batch_max)
                entries = response[0][1] if response else []
                if entries:
                    return [bus.decode(entry_id, fields or {}) for entry_id, fields in entries]
                self._read_own_pending = False
            response = self.redis.xreadgroup(bus.GROUP, self.consumer, {stream: ">"}, count=self.batch_max, block=500)
        except redis.ConnectionError as exc:
            log.error("command bus unreachable (%s); retrying", exc)
            time.sleep(1)
            return []
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):  # the bus was flushed under us
                self._ensure_group()
                return []
            raise
        if not response:
            return []
        return [bus.decode(entry_id, fields) for entry_id, fields in response[0][1]]

    # -- a batch -------------------------------------------------------------------------

    def process(self, envelopes: list[bus.Envelope]) -> None:
        started = time.perf_counter()
        staged: list[store.StoredEvent] = []
        replies: list[tuple[str | None, Outcome]] = []
        recorded_at_ns = time.time_ns()
        for envelope in envelopes:
            if envelope.command is None:
                log.warning("dropping bus entry %s: %s", envelope.entry_id, envelope.error)
                replies.append((envelope.reply_to, Outcome("error", reason="malformed_command", text=envelope.error)))
                continue
            try:
                outcome = self.handle(envelope.command, staged, recorded_at_ns)
            except Exception:
                log.exception("command %s failed; refusing it", envelope.command)
                outcome = Outcome("error", reason="internal_error", text="the engine could not process the command")
            replies.append((envelope.reply_to, outcome))
        commit_started = time.perf_counter()
        try:
            with transaction.atomic():
                if connection.connection is not self._locked_connection:
                    raise LostWriterLock("the writer connection was replaced")
                store.append(staged)
        except Exception as exc:
            log.exception("commit of %d events failed; recovering from the log", len(staged))
            connection.close()
            self._safe_recover()
            if isinstance(exc, POISON_ERRORS):
                self._isolate(envelopes, exc)
            else:
                time.sleep(RETRY_PAUSE_SECONDS)  # not the data's fault: the entries stay pending
            return
        committed = time.perf_counter()
        self._after_commit(envelopes, replies)
        self.stats["batches"] += 1
        self.stats["commands"] += len(envelopes)
        self.stats["events"] += len(staged)
        self._account(len(envelopes), time.perf_counter() - started, committed - commit_started)

    def _account(self, commands: int, busy: float, commit: float) -> None:
        """Every 10 s, one log line operators can read the engine's load from."""
        w = self._window
        w["batches"] += 1
        w["commands"] += commands
        w["busy"] += busy
        w["commit"] += commit
        elapsed = time.monotonic() - w["started"]
        if elapsed >= 10:
            log.info(
                "%.0f commands/s, %d batches (%.1f commands each), busy %.0f%%, append+commit %.2f ms a batch; "
                "last position %d",
                w["commands"] / elapsed, w["batches"], w["commands"] / w["batches"], 100 * w["busy"] / elapsed,
                1000 * w["commit"] / w["batches"], self.state.last_position,
            )  # fmt: skip
            self._window = {"batches": 0, "commands": 0, "busy": 0.0, "commit": 0.0, "started": time.monotonic()}

    def _isolate(self, envelopes: list[bus.Envelope], error: Exception) -> None:
        """A commit failed for something in the data, not the connection: find the command.

        Without this, one poison command (a value the database refuses) would fail every
        batch it is in, for ever, and stop all trading. Each command is retried alone; the
        one that still fails is answered with an error and moved to the dead-letter stream,
        where an operator can read it, and everything else goes through."""
        if len(envelopes) > 1:
            log.warning("retrying the %d commands of the failed batch one at a time", len(envelopes))
            for envelope in envelopes:
                if not self._stopping:
                    self.process([envelope])
            return
        envelope = envelopes[0]
        log.error("command %s cannot be committed (%s); moved to the dead-letter stream", envelope.entry_id, error)
        outcome = Outcome("error", reason="not_committable", text=f"the engine could not record this: {error}"[:300])
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(bus.key("commands:dead"), {"c": envelope.raw, "error": str(error)[:1000]}, maxlen=100_000)
        if envelope.reply_to:
            pipe.rpush(envelope.reply_to, orjson.dumps(outcome.as_reply()))
            pipe.expire(envelope.reply_to, bus.REPLY_TTL_SECONDS)
        pipe.xack(bus.commands_stream(), bus.GROUP, envelope.entry_id)
        pipe.xdel(bus.commands_stream(), envelope.entry_id)
        pipe.execute()

    def _safe_recover(self) -> None:
        while not self._stopping:
            try:
                self.recover()
                return
            except Exception:
                log.exception("recovery failed; retrying in 1s")
                connection.close()
                time.sleep(1)

    def _after_commit(self, envelopes: list[bus.Envelope], replies: list[tuple[str | None, Outcome]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for reply_to, outcome in replies:
            if reply_to:
                pipe.rpush(reply_to, orjson.dumps(outcome.as_reply()))
                pipe.expire(reply_to, bus.REPLY_TTL_SECONDS)
        ids = [e.entry_id for e in envelopes]
        pipe.xack(bus.commands_stream(), bus.GROUP, *ids)
        pipe.xdel(bus.commands_stream(), *ids)
        pipe.set(bus.key("events:last_position"), self.state.last_position)
        pipe.publish(bus.key("events"), self.state.last_position)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            # Committed but not answered: the entries stay pending and are answered as
            # duplicates when they are read again.
            log.error("could not answer a committed batch (%s); it will be re-read", exc)
            self._read_own_pending = True

    def handle(self, command: cmd.Command, staged: list[store.StoredEvent], recorded_at_ns: int) -> Outcome:
        handler: Callable[[Any], tuple[Outcome, list[ev.Event], str]] = self._handlers[type(command)]
        outcome, events, account = handler(self, command)
        if not events:
            return outcome
        events = self._unclaimed(events, account)
        # Fold first on copies: if the state machine refused an event (a bug in decide), nothing
        # of this command is applied or staged. One command may touch several orders (a parent
        # and its children), each its own stream.
        state = self.state
        folded: dict[int, OrderState] = {}
        states_after = []
        for event in events:
            current = folded[event.order_id] if event.order_id in folded else state.orders.get(event.order_id)
            folded[event.order_id] = apply(current, event)
            states_after.append(folded[event.order_id])
        for event, state_after in zip(events, states_after):
            state.last_position += 1
            stored = store.StoredEvent.for_order(
                event,
                position=state.last_position,
                version=state_after.version,
                account=account,
                recorded_at_ns=recorded_at_ns,
                actor=command.actor,
                command_id=command.command_id,
                state_after=state_after,
            )
            staged.append(stored)
            introduced = cl_ord_ids.introduced(event)
            if introduced is not None:
                key = (account, trading_day(event.at_ns, self.zone), introduced)
                state.cl_ord_ids.setdefault(key, (event.order_id, cl_ord_ids.named_by(event)))
        state.orders.update(folded)
        state.last_order_id = max(state.last_order_id, *folded)
        return outcome

    def _unclaimed(self, events: list[ev.Event], account: str) -> list[ev.Event]:
        """The ClOrdIDs the OMS makes (a child's `<parent>.<n>`, its requests' `<request>.<n>`) can
        be one a client already used today: such a one gets a suffix, so every ClOrdID stays
        unique per account and day (the cl_ord_id_claims table's constraint says so too)."""
        out = []
        for event in events:
            made_here = (isinstance(event, ev.OrderAccepted) and event.parent_id is not None) or (
                isinstance(event, ev.OrderCancelRequested | ev.OrderReplaceRequested)
                and (order := self.state.orders.get(event.order_id)) is not None
                and order.parent_id is not None
            )
            if made_here:
                assert isinstance(event, ev.OrderAccepted | ev.OrderCancelRequested | ev.OrderReplaceRequested)
                day = trading_day(event.at_ns, self.zone)
                candidate, number = event.cl_ord_id, 1
                while (account, day, candidate) in self.state.cl_ord_ids:
                    number += 1
                    candidate = cl_ord_ids.with_suffix(event.cl_ord_id, number)
                if candidate != event.cl_ord_id:
                    event = dataclasses.replace(event, cl_ord_id=candidate)
            out.append(event)
        return out

    # -- commands ----------------------------------------------------------------------

    def _submit(self, command: cmd.SubmitOrder) -> tuple[Outcome, list[ev.Event], str]:
        existing = self.state.claimed(command.account, command.cl_ord_id, command.received_at_ns, self.zone)
        if existing is not None:
            order_id, named = existing
            if named != "order":
                return _clash(command.cl_ord_id, order_id), [], command.account
            return Outcome("duplicate", order_id), [], command.account
        if command.expires_at_ns is not None and time.time_ns() > command.expires_at_ns:
            # The sender has stopped waiting and was told the outcome is unknown; acting now
            # would surprise it. Its retry, with the same ClOrdID, is processed normally.
            return Outcome("expired", text="the command expired before the engine took it"), [], command.account
        denial = self._check_submit(command)
        order_id = self.state.last_order_id + 1
        if command.strategy is not None:
            return self._submit_parent(command, order_id, denial)
        venue = command.venue or self.default_venue
        if denial is None:
            denial = self._check_venue(venue)
        command = dataclasses.replace(command, venue=venue)
        events = decide(None, command, new_order_id=order_id, denial=denial)
        if denial is not None:
            return Outcome("rejected", order_id, denial.reason, denial.text), events, command.account
        return Outcome("accepted", order_id), events, command.account

    def _submit_parent(
        self, command: cmd.SubmitOrder, order_id: int, denial: Denial | None
    ) -> tuple[Outcome, list[ev.Event], str]:
        """A parent order: accepted, routed by the smart order router, and its children created,
        all in one go, so no parent is ever in the log without its routing decision."""
        plan = None
        if denial is None:
            assert command.strategy is not None
            if command.venues and not set(command.venues) <= self.venues:
                self._load_reference()  # venues may have been added since we loaded them
            connected = [v for v in self._connected_venues() if not command.venues or v in command.venues]
            books = venue_sessions.read_books(connected, command.symbol) if connected else {}
            rules = self.instruments[command.symbol]
            order = router.Order(command.side, command.quantity, command.limit_price, rules.lot_size,
                                 command.strategy, command.venue, command.slices,
                                 all_or_none=command.time_in_force is TimeInForce.FOK)  # fmt: skip
            try:
                plan = router.plan(order, connected, books)
            except router.RoutingRefused as refused:
                denial = Denial(refused.reason, refused.text)
        events = decide(None, command, new_order_id=order_id, denial=denial)
        if denial is not None or plan is None:
            assert denial is not None
            return Outcome("rejected", order_id, denial.reason, denial.text), events, command.account
        parent = apply(None, events[0])
        children = tuple(ev.RoutedChild(order_id + 1 + i, p.venue, p.quantity) for i, p in enumerate(plan.placements))
        assert command.strategy is not None
        routed = ev.OrderRouted(order_id, command.received_at_ns, command.strategy, children, plan.text)
        events += parents.route(parent, routed)
        return Outcome("accepted", order_id), events, command.account

    def _connected_venues(self) -> list[str]:
        """Active venues whose session is logged on now, the default one first."""
        ordered = sorted(self.venues, key=lambda v: (v != self.default_venue, v))
        return [v for v in ordered if self._check_venue(v) is None]

    def _check_submit(self, command: cmd.SubmitOrder) -> Denial | None:
        def check() -> Denial | None:
            return check_order(
                account=command.account,
                symbol=command.symbol,
                quantity=command.quantity,
                order_type=command.order_type.value,
                limit_price=command.limit_price,
                instruments=self.instruments,
                active_accounts=self.active_accounts,
            )

        denial = check()
        if denial is not None and denial.reason in ("unknown_symbol", "unknown_account"):
            if self._load_reference():  # reference data may have been added since we loaded it
                denial = check()
        return denial

    def _check_venue(self, venue: str | None) -> Denial | None:
        """Fail closed: an order goes only to a configured venue whose session is logged on now."""
        if venue is None:
            return Denial("no_venue", "no venue given and no default venue is configured")
        if venue not in self.venues:
            self._load_reference()
            if venue not in self.venues:
                return Denial("unknown_venue", f"unknown or inactive venue {venue!r}")
        now = time.monotonic()
        if now - self._sessions_read_at > VENUE_SESSIONS_MAX_AGE_SECONDS:
            try:
                self._sessions = venue_sessions.read(sorted(self.venues))
            except redis.RedisError as exc:
                self._sessions = {
                    v: {"state": "unknown", "detail": f"session state unreadable: {exc}"} for v in self.venues
                }
            self._sessions_read_at = now
        why = venue_sessions.refusal(venue, self._sessions.get(venue, {}))
        return Denial("venue_unavailable", why) if why else None

    def _request(self, command: cmd.CancelOrder | cmd.ReplaceOrder) -> tuple[Outcome, list[ev.Event], str]:
        state = self.state.orders.get(command.order_id)
        if state is None or state.account != command.account:
            return Outcome("error", reason="unknown_order", text=f"no order {command.order_id}"), [], command.account
        if state.parent_id is not None:
            # A child works for its parent's instruction: changing it alone would take the parent
            # past its own quantity or limit. Cancel or replace the parent; the children follow.
            text = f"order {state.order_id} is a child of order {state.parent_id}: cancel or replace the parent"
            return Outcome("rejected", state.order_id, "child_order", text), [], state.account
        claimed = self.state.claimed(command.account, command.cl_ord_id, command.received_at_ns, self.zone)
        if claimed is not None:
            order_id, named = claimed
            kind = "cancel" if isinstance(command, cmd.CancelOrder) else "replace"
            if named == kind and order_id == command.order_id:
                return Outcome("duplicate", order_id), [], command.account  # a retry of this request
            return _clash(command.cl_ord_id, order_id), [], command.account
        denial = None
        if isinstance(command, cmd.ReplaceOrder):
            if command.expires_at_ns is not None and time.time_ns() > command.expires_at_ns:
                return Outcome("expired", command.order_id), [], command.account
            denial = check_replace(
                account=state.account,
                symbol=state.symbol,
                quantity=command.quantity if command.quantity is not None else state.quantity,
                order_type=state.order_type.value,
                limit_price=command.limit_price if command.limit_price is not None else state.limit_price,
                instruments=self.instruments,
            )
        events = decide(state, command, denial=denial)
        if not events:  # a retry of the request already pending
            return Outcome("duplicate", state.order_id), [], state.account
        if state.is_parent:  # passed on to the children
            request = events[0]
            if isinstance(request, ev.OrderCancelRequested):
                events = parents.cancel(state, request, self.state.orders)
            elif isinstance(request, ev.OrderReplaceRequested):
                events = parents.replace(state, request, self.state.orders)
        return self._outcome_of(events[:1], state.order_id), events, state.account

    def _report(self, command: cmd.ApplyExecutionReport | cmd.ApplyCancelReject) -> tuple[Outcome, list, str]:
        state = self.state.orders.get(command.order_id)
        if state is None:
            log.warning("report for unknown order %s from %s: %s", command.order_id, command.actor, command)
            return Outcome("error", reason="unknown_order", text=f"no order {command.order_id}"), [], ""
        events = decide(state, command)
        if not events:
            return Outcome("no_change", state.order_id, text="already applied"), [], state.account
        outcome = self._outcome_of(events, state.order_id)
        parent = self.state.orders.get(state.parent_id) if state.parent_id is not None else None
        if parent is not None:
            child = state
            for event in events:
                child = apply(child, event)
            at = command.received_at_ns
            rolled = parents.roll_up(parent, child, events, self.state.orders, at, before=state)
            events = events + rolled + self._reroute(parent, child, rolled, events, at)
        return outcome, events, state.account

    def _reroute(
        self, parent: OrderState, lost: OrderState, rolled: list[ev.Event], events: list[ev.Event], at_ns: int
    ) -> list[ev.Event]:
        """Place again what a child the venue ended unasked no longer works (the venue lost it),
        through the router over the venues still connected: a split or sliced parent asked for
        liquidity, not for that venue. A direct parent was told where to go: it is only noted.
        `lost`: the child as the venue's report left it (ended, its missed fills booked)."""
        ended = any(isinstance(e, ev.ExecutionAnomalyRecorded) and e.reason == "child_ended" for e in rolled)
        if not ended or parent.strategy not in (Strategy.SPLIT, Strategy.SLICES):
            return []
        if len(parent.children) >= MAX_CHILDREN:
            return []  # a venue that keeps losing orders does not get to multiply them
        current = parent
        for event in rolled:
            current = apply(current, event)
        # Within the venues the parent was placed at (it may have been limited to them), the one
        # that lost the child last.
        used = {self.state.orders[c].venue for c in parent.children if c in self.state.orders}
        usable = [v for v in self._connected_venues() if v in used]
        connected = [v for v in usable if v != lost.venue] or usable
        rules = self.instruments.get(parent.symbol)
        if current.is_done or not connected or rules is None:
            return []
        # What the parent has open that no live child works: after the fills the report revealed,
        # never more, so the children never work more than the parent has open.
        children = [lost if c == lost.order_id else self.state.orders[c] for c in current.children]
        quantity = parents.unworked(current, children)
        if quantity <= 0:
            return []
        order = router.Order(parent.side, quantity, parent.limit_price, rules.lot_size, Strategy.SPLIT)
        try:
            plan = router.plan(order, connected, venue_sessions.read_books(connected, parent.symbol))
        except router.RoutingRefused:
            return []
        first = max(self.state.last_order_id, *(e.order_id for e in events)) + 1
        children = tuple(ev.RoutedChild(first + i, p.venue, p.quantity) for i, p in enumerate(plan.placements))
        text = f"re-routing the {order.quantity} child {lost.order_id} no longer works at {lost.venue}: {plan.text}"
        return parents.route(current, ev.OrderRouted(parent.order_id, at_ns, parent.strategy, children, text))

    @staticmethod
    def _outcome_of(events: list[ev.Event], order_id: int) -> Outcome:
        last = events[-1]
        if isinstance(last, ev.OrderCancelRejected | ev.OrderReplaceRejected):
            return Outcome("rejected", order_id, last.reason, last.text)
        if isinstance(last, ev.ExecutionAnomalyRecorded):
            return Outcome("anomaly", order_id, last.reason, last.text)
        return Outcome("accepted", order_id)

    _handlers: dict[type, Callable[..., tuple[Outcome, list[ev.Event], str]]] = {
        cmd.SubmitOrder: _submit,
        cmd.CancelOrder: _request,
        cmd.ReplaceOrder: _request,
        cmd.ApplyExecutionReport: _report,
        cmd.ApplyCancelReject: _report,
    }

    # -- reference data and health -----------------------------------------------------------

    def _load_reference(self, force: bool = False) -> bool:
        """Reload instruments and accounts; at most once a second unless forced. True if reloaded."""
        now = time.monotonic()
        if not force and now - self._reference_loaded_at < REFERENCE_RELOAD_MIN_SECONDS:
            return False
        self.instruments = {
            i.symbol: InstrumentRules(i.symbol, i.tick_size, i.lot_size, i.active) for i in Instrument.objects.all()
        }
        self.active_accounts = set(Account.objects.filter(active=True).values_list("code", flat=True))
        venues = list(Venue.objects.filter(active=True))
        self.venues = {v.name for v in venues}
        self.default_venue = next((v.name for v in venues if v.default), None)
        self._reference_loaded_at = now
        return True

    def _standby_heartbeat(self) -> None:
        """A standby announces itself beside, never over, the live engine's health."""
        try:
            self.redis.set(bus.key(f"engine:standby:{os.getpid()}"), time.time_ns(), ex=HEALTH_TTL_SECONDS)
        except redis.RedisError as exc:
            log.error("cannot publish standby health: %s", exc)

    def _heartbeat(self, state: str | None = None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = now
        payload = {
            "state": state or self._health_state,
            "pid": os.getpid(),
            "last_position": self.state.last_position,
            "orders": len(self.state.orders),
            "at_ns": time.time_ns(),
        }
        try:
            self.redis.set(bus.key("engine:health"), json.dumps(payload), ex=HEALTH_TTL_SECONDS)
        except redis.RedisError as exc:
            log.error("cannot publish engine health: %s", exc)


def _clash(cl_ord_id: str, order_id: int) -> Outcome:
    return Outcome(
        "error",
        reason="duplicate_cl_ord_id",
        text=f"ClOrdID {cl_ord_id} is already used today by order {order_id} or one of its requests",
    )


def _lock_holder_pid(cursor: Any) -> int | None:
    cursor.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s AND classid = 0",
        [WRITER_LOCK_KEY & 0xFFFFFFFF],
    )
    row = cursor.fetchone()
    return row[0] if row else None
