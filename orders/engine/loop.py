"""The engine's cycle: read a batch, decide, fold, commit, answer. The only writer of events.

It reads commands from the bus in batches, and the venue feed's updates since the last batch;
each command goes through the pure handlers (orders/engine/handlers.py: deduplication, the
pre-trade gate, decide), and the resulting events are folded into the in-memory state at once
(so the next command in the batch sees them). Then it appends the whole batch's events,
with the projections, in ONE transaction, commits, and only after the commit answers the
senders, acknowledges the bus entries and announces what it routed (orders/routed.py, for the
venue connectors) and the new log position. One commit thus covers many commands under load,
and nothing leaves the engine before it is durable.

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

import json
import logging
import os
import signal
import time
from typing import Any

import orjson
import psycopg
import redis
from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction

from orders import bus, calendars, projections, references, routed, store
from orders.domain import commands as cmd
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.engine import handlers, snapshots
from orders.engine.decisions import Inputs, Outcome
from orders.engine.market import MarketInputs
from orders.engine.reference import REFRESH_SECONDS, ReferenceData
from orders.engine.state import EngineState
from reconciliation.domain.events import RECONCILIATION_EVENT_TYPES
from risk import usage_feed
from risk.domain import DuplicateWindow, RiskUsage
from risk.domain.events import RISK_EVENT_TYPES

RISK_EVENTS = tuple(RISK_EVENT_TYPES.values())
RECONCILIATION_EVENTS = tuple(RECONCILIATION_EVENT_TYPES.values())

log = logging.getLogger("oms.engine")

WRITER_LOCK_KEY = 0x0E5_0001  # pg_advisory_lock key of the single writer
HEARTBEAT_SECONDS = 1.0
HEALTH_TTL_SECONDS = 3  # health says the engine is gone within 3 s of its last heartbeat
RETRY_PAUSE_SECONDS = 1.0


class WriterLockHeld(Exception):
    """Another engine holds the writer lock."""


class LostWriterLock(Exception):
    """The connection that held the writer lock is gone."""


# Failures of the data itself (SQLSTATE classes 22 and 23, or what psycopg refuses to send,
# like a NUL in a text): the one command behind them is isolated and set aside. Anything
# else (a lost connection, a read-only failover, a revoked grant...) is not the command's
# fault: the batch stays pending and is retried after recovery, and nothing is set aside.
POISON_ERRORS = (DataError, IntegrityError, psycopg.DataError, psycopg.IntegrityError)


class Engine:
    def __init__(self, *, consumer: str = "engine", batch_max: int | None = None, full_replay: bool = False) -> None:
        self.consumer = consumer
        self.full_replay = full_replay  # rebuild from the whole log, never from a snapshot
        self.batch_max = batch_max or settings.OMS_ENGINE_BATCH_MAX
        self.zone = calendars.oms_day()
        self.redis: redis.Redis = bus.client()
        self.state = EngineState()
        self.start = snapshots.Start()  # how the state was last rebuilt: from a snapshot, or the whole log
        self.reference = ReferenceData()
        self.market = MarketInputs()
        self._references_published_at = 0.0
        self._usage_published_at = 0.0
        self._usage_changed: set[str] = set()  # accounts whose risk usage changed since published
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
        """Rebuild the in-memory state: the newest usable snapshot and the log's tail after it, or the
        whole log (orders/engine/snapshots.py). Also the way back after a failed commit."""
        self._health_state = "recovering"
        self._heartbeat(force=True)
        if connection.connection is None or connection.connection is not self._locked_connection:
            connection.close()
            self.acquire_writer_lock(wait=True)
        started = time.monotonic()
        self.reference.load()
        self.state = self._empty_state()  # what health shows until the state is rebuilt
        folded = 0

        def on_progress(events: int) -> None:
            nonlocal folded
            folded += events
            if time.monotonic() - self._last_heartbeat > HEARTBEAT_SECONDS:
                log.info("recovering: %d events replayed", folded)
                self._heartbeat(force=True)

        # The newest usable snapshot and the log's tail after it, or the whole log (snapshots.py).
        self.state, self.start = snapshots.restore(
            self._snapshot_reference(), progress=on_progress, use_snapshots=not self.full_replay
        )
        self.market.start()
        references.forget()
        self._references_published_at = 0.0  # publish at once what this engine holds
        self._ensure_group()
        self._read_own_pending = True
        self._usage_changed = set(self.reference.accounts)  # the API shows what the log says, from the start
        self._publish_usage(force=True)
        elapsed = time.monotonic() - started
        log.info(
            "recovered from %s in %.2fs in all; %d orders, last position %d; live",
            self.start.describe(),
            elapsed,
            len(self.state.orders),
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
            if not entries:
                self._catch_up_with_venues()  # references stay fresh for the API when idle
                self._publish_usage()
            if time.monotonic() - self.reference.loaded_at > REFRESH_SECONDS:
                self.reference.load()  # admin changes (venues, instruments) reach us
                self.state.usage.reprice(self.reference.margin_rates())
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
        after = self.state.last_position  # the log's end before this batch
        staged: list[store.StoredEvent] = []
        replies: list[tuple[str | None, Outcome]] = []
        recorded_at_ns = time.time_ns()
        if self.reference.refresh([e.command for e in envelopes if e.command is not None]):
            self.state.usage.reprice(self.reference.margin_rates())
        self._catch_up_with_venues()
        inputs = Inputs(self.reference, self.market, recorded_at_ns, self.zone)
        for envelope in envelopes:
            if envelope.command is None:
                log.warning("dropping bus entry %s: %s", envelope.entry_id, envelope.error)
                replies.append((envelope.reply_to, Outcome("error", reason="malformed_command", text=envelope.error)))
                continue
            try:
                outcome = self.handle(envelope.command, inputs, staged)
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
        self._after_commit(envelopes, replies, self._notice(after, staged))
        self._usage_changed.update(s.account for s in staged if s.account)
        self._publish_usage()
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

    def _reply(self, outcome: Outcome, with_order: bool) -> dict:
        """The answer; with the order as just committed when the sender asked (bus.encode)."""
        reply = outcome.as_reply()
        state = self.state.orders.get(outcome.order_id) if with_order and outcome.order_id is not None else None
        if state is not None:
            reply["order"] = projections.order_reply(state, self.zone)
        return reply

    def _safe_recover(self) -> None:
        while not self._stopping:
            try:
                self.recover()
                return
            except Exception:
                log.exception("recovery failed; retrying in 1s")
                connection.close()
                time.sleep(1)

    def _notice(self, after: int, staged: list[store.StoredEvent]) -> bytes | None:
        """What the commit routed, for the venue connectors (orders/routed.py); None for a batch
        too big to be worth it (the connectors read the log for it, as a notice missed)."""
        if sum(s.event_type in routed.ROUTED_EVENTS for s in staged) > routed.NOTICE_MAX_EVENTS:
            return None
        return routed.encode(after, staged, self.state.orders, self.state.kill_switches.engaged())

    def _after_commit(self, envelopes: list[bus.Envelope], replies: list[tuple[str | None, Outcome]],
                      notice: bytes | None = None) -> None:  # fmt: skip
        pipe = self.redis.pipeline(transaction=False)
        with_order = {e.reply_to for e in envelopes if e.with_order}
        for reply_to, outcome in replies:
            if reply_to:
                pipe.rpush(reply_to, orjson.dumps(self._reply(outcome, reply_to in with_order)))
                pipe.expire(reply_to, bus.REPLY_TTL_SECONDS)
        ids = [e.entry_id for e in envelopes]
        pipe.xack(bus.commands_stream(), bus.GROUP, *ids)
        pipe.xdel(bus.commands_stream(), *ids)
        pipe.set(bus.key("events:last_position"), self.state.last_position)
        if notice is not None:  # before the position: a tailer hears what it may send, then that the log moved
            pipe.publish(routed.channel(), notice)
        pipe.publish(bus.key("events"), self.state.last_position)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            # Committed but not answered: the entries stay pending and are answered as
            # duplicates when they are read again.
            log.error("could not answer a committed batch (%s); it will be re-read", exc)
            self._read_own_pending = True

    # -- a command ---------------------------------------------------------------------

    def _empty_state(self) -> EngineState:
        """A state to fold the log into, its risk parts set up with the reference data."""
        return EngineState(
            usage=RiskUsage(self.reference.margin_rates()), duplicates=DuplicateWindow(self.reference.policy)
        )

    def _snapshot_reference(self) -> snapshots.Reference:
        """What a snapshot is folded on and re-applied with: this engine's zone and reference data."""
        return snapshots.Reference(self.zone, self.reference.margin_rates(), self.reference.policy)

    def handle(self, command: cmd.Command, inputs: Inputs, staged: list[store.StoredEvent]) -> Outcome:
        outcome, events = handlers.handle(self.state, inputs, command)
        if outcome.reason == "unknown_order" and isinstance(command, cmd.ApplyExecutionReport | cmd.ApplyCancelReject):
            log.warning("report for unknown order %s from %s: %s", command.order_id, command.actor, command)
        if not events:
            return outcome
        # Fold first on copies: if the state machine refused an event (a bug in decide), nothing
        # of this command is applied or staged. One command may touch several orders (a parent
        # and its children), each its own stream.
        state = self.state
        folded: dict[int, OrderState] = {}
        transitions: list[tuple[OrderState | None, OrderState] | None] = []  # None: a risk or reconciliation event
        for event in events:
            if isinstance(event, RISK_EVENTS + RECONCILIATION_EVENTS):
                transitions.append(None)
                continue
            current = folded[event.order_id] if event.order_id in folded else state.orders.get(event.order_id)
            folded[event.order_id] = apply(current, event)
            transitions.append((current, folded[event.order_id]))
        for event, transition in zip(events, transitions):
            state.last_position += 1
            if isinstance(event, RECONCILIATION_EVENTS):
                after_break = state.track_reconciliation(event)
                staged.append(store.StoredEvent.for_reconciliation(
                    event, position=state.last_position, version=after_break.version, account=after_break.account,
                    recorded_at_ns=inputs.now_ns, actor=command.actor, command_id=command.command_id,
                ))  # fmt: skip
                continue
            if transition is None:
                state.risk_version += 1
                staged.append(store.StoredEvent.for_risk(
                    event, position=state.last_position, version=state.risk_version, recorded_at_ns=inputs.now_ns,
                    actor=command.actor, command_id=command.command_id,
                ))  # fmt: skip
                state.track_risk(event, command.actor, command.command_id)
                self.reference.apply(event)
                continue
            before, after = transition
            staged.append(
                store.StoredEvent.for_order(
                    event,
                    position=state.last_position,
                    version=after.version,
                    account=after.account,
                    recorded_at_ns=inputs.now_ns,
                    actor=command.actor,
                    command_id=command.command_id,
                    state_after=after,
                )
            )
            state.claim(after.account, event, self.zone)
            state.track(event, before, after, command.actor, command.command_id)
        state.orders.update(folded)
        if folded:
            state.last_order_id = max(state.last_order_id, *folded)
        return outcome

    def _publish_usage(self, force: bool = False) -> None:
        """The risk usage of the accounts that changed, for the API (risk/usage_feed.py)."""
        now = time.monotonic()
        if not force and (now - self._usage_published_at < usage_feed.PUBLISH_MIN_SECONDS):
            return
        self._usage_published_at = now
        usage = self.state.usage
        changed, self._usage_changed = self._usage_changed, set()
        payloads = {a: usage_feed.usage_payload(usage.account(a), dict(usage.symbols(a))) for a in changed}
        try:
            usage_feed.publish(payloads, list(self.state.kill_switches.engaged()))
        except redis.RedisError as exc:
            log.error("cannot publish risk usage: %s", exc)
            self._usage_changed |= changed

    # -- the venues ------------------------------------------------------------------------

    def _catch_up_with_venues(self) -> None:
        """The venue feed's updates since the last batch; then, every references.PUBLISH_SECONDS,
        the reference prices as the checks would see them now, for the API."""
        try:
            self.market.catch_up()
        except redis.RedisError as exc:
            # Decide on what was heard last: its age says how much it is worth (a session not
            # heard of for SESSION_TTL_SECONDS counts as down, so nothing is routed blind).
            log.error("venue feed unreadable (%s); deciding on what was heard last", exc)
            return
        now = time.monotonic()
        if now - self._references_published_at < references.PUBLISH_SECONDS:
            return
        self._references_published_at = now
        now_ns = time.time_ns()
        try:
            references.publish({symbol: self.market.quote_payload(symbol, now_ns) for symbol in self.market.symbols()})
        except redis.RedisError as exc:
            log.error("cannot publish reference prices: %s", exc)

    # -- health -------------------------------------------------------------------------------

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
            "start": self.start.as_health(),
            "at_ns": time.time_ns(),
        }
        try:
            self.redis.set(bus.key("engine:health"), json.dumps(payload), ex=HEALTH_TTL_SECONDS)
        except redis.RedisError as exc:
            log.error("cannot publish engine health: %s", exc)


def _lock_holder_pid(cursor: Any) -> int | None:
    cursor.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s AND classid = 0",
        [WRITER_LOCK_KEY & 0xFFFFFFFF],
    )
    row = cursor.fetchone()
    return row[0] if row else None
