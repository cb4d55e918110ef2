"""Tailing the committed log from a durable checkpoint: how anything downstream of the
engine (venue connectors, the blotter feed, reconciliation) learns what happened.

Only committed events are in the table, and positions are assigned by the single writer in
commit order without gaps, so reading "position > checkpoint" never skips a late commit.
The handler runs first and the checkpoint moves after it, so delivery is at least once:
after a crash the last batch may be handled again, and handlers must be idempotent (a venue
connector, for one, resends under the same ClOrdID, which the venue deduplicates).
The engine PUBLISHes its last position after each commit; the tailer sleeps on that
channel and also polls, so a lost notification only delays it. Once it has read up to the
position the latest notification named, a batch shorter than its batch size is all there was:
the tailer waits for the next notification rather than asking again (a later commit notifies).

While it follows the log a tailer keeps its position in memory; the checkpoint is read again
when it starts and when it retries after a failure. A handler that returns False says the batch
asked nothing of the world (a client feed with no report in it): handling it again after a
crash does nothing, so such batches move the checkpoint at most once every
IDLE_CHECKPOINT_SECONDS, not a commit each. A tailer reads the log through `read`: the events
table, or a reader shared by several tailers (the client gateway's, gateway/fix/outbound.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.db import connection
from psycopg import sql

from orders import bus, store
from orders.models import Checkpoint

log = logging.getLogger("oms.tailer")

# False: the batch needed nothing done outside the process (see above); None or True: it did.
Handler = Callable[[list[store.StoredEvent]], "bool | None"]
# (after, limit) -> at most `limit` committed events after position `after`, in order
Reader = Callable[[int, int], list[store.StoredEvent]]


@dataclass(frozen=True, slots=True)
class Noticed:
    """A commit as the engine announced it, with what a tailer needs of it: it covers the log
    positions (after, last], and `handle(position)` handles its part past `position` (returning
    as a Handler does)."""

    after: int
    last: int
    handle: Callable[[int], bool | None]


IDLE_CHECKPOINT_SECONDS = 1.0
UPDATE_CHECKPOINT = f"UPDATE {Checkpoint._meta.db_table} SET position = %s WHERE name = %s"
# The same, not waiting for the WAL flush: one query string is one implicit transaction, which SET LOCAL holds for.
UPDATE_CHECKPOINT_UNFLUSHED = sql.SQL(
    f"SET LOCAL synchronous_commit TO off; UPDATE {Checkpoint._meta.db_table} SET position = {{}} WHERE name = {{}}"
)


def read_log(after: int, limit: int) -> list[store.StoredEvent]:
    return store.read_range(after, limit=limit)


class LogTailer:
    def __init__(self, name: str, handler: Handler, *, batch_size: int = 1000, poll_seconds: float = 1.0,
                 read: Reader = read_log, notices: str | None = None,
                 noticed: Callable[[str], Noticed] | None = None, flush_checkpoint: bool = True) -> None:  # fmt: skip
        self.name = name
        self.handler = handler
        self.notices = notices  # a channel of the engine's post-commit notices (orders/routed.py)
        self.noticed = noticed  # a notice's text as what this tailer needs of it
        self.flush_checkpoint = flush_checkpoint  # False: a checkpoint lost to a database crash is harmless
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.read = read
        self.stopped = threading.Event()
        self._after: int | None = None  # handled up to here, while following; None: the checkpoint's
        self._notified = 0  # the last position the engine has said it committed
        self._checkpoint_due = 0.0  # monotonic time by which a deferred checkpoint write is made

    def position(self) -> int:
        checkpoint, _ = Checkpoint.objects.get_or_create(name=self.name)
        return checkpoint.position

    def catch_up(self) -> int:
        """Handle everything committed after the checkpoint; the number of events handled."""
        handled = 0
        after = self.position() if self._after is None else self._after
        while not self.stopped.is_set():
            batch = self.read(after, self.batch_size)
            if not batch:
                break
            last = batch[-1].position  # before the handler, which may do what it likes with the list
            acted = self.handler(batch)
            after = last
            self._handled(after, acted)
            handled += len(batch)
            if len(batch) < self.batch_size and after >= self._notified:
                break  # all there was when notified; the next commit notifies again
        return handled

    def _handled(self, position: int, acted: bool | None) -> None:
        """Everything up to `position` is handled: the checkpoint follows (at once when the handler
        acted on the world, at most every IDLE_CHECKPOINT_SECONDS otherwise)."""
        now = time.monotonic()
        if acted is not False or now >= self._checkpoint_due:
            self._save(position)
            self._checkpoint_due = now + IDLE_CHECKPOINT_SECONDS
        if self._after is not None:
            self._after = position

    def on_notice(self, data: str) -> None:
        """A commit announced with what it holds for us (`self.notices`): handled straight from the
        notice when it follows on from where we are; otherwise (a notice missed) the log is read
        up to it; nothing when we are past it already."""
        assert self.noticed is not None
        try:
            noticed = self.noticed(data)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable notice (%s); reading the log instead", self.name, exc)
            return  # its commit's position follows on `events`, and is read from the log then
        self._notified = max(self._notified, noticed.last)
        after = self.position() if self._after is None else self._after
        if noticed.last <= after:
            return  # handled already, from the log
        if noticed.after > after:
            self.catch_up()  # commits we heard nothing of: the log has them, and this one
            return
        self._handled(noticed.last, noticed.handle(after))

    def _save(self, position: int) -> None:
        # One statement, committed on its own: the ORM's update in a transaction costs a tailer
        # three times the CPU (~0.4 ms against ~0.12 ms), and it is paid after every batch.
        with connection.cursor() as cursor:
            if self.flush_checkpoint:
                cursor.execute(UPDATE_CHECKPOINT, [position, self.name])
                return
            # Not waiting for the WAL flush: only a PostgreSQL crash can lose it, and then a batch is
            # handled again, as after a crash of ours. The engine's commits do not queue behind it.
            statement = UPDATE_CHECKPOINT_UNFLUSHED.format(sql.Literal(position), sql.Literal(self.name))
            cursor.execute(statement.as_string(cursor.cursor))

    def run(self) -> None:
        """Catch up, then follow the log until `stop()`. A failure (the database, Redis, the
        handler) is logged and retried with backoff from the checkpoint: a tailer never dies."""
        backoff = 0.5
        while not self.stopped.is_set():
            try:
                self._follow()
                return
            except Exception:
                if self.stopped.is_set():
                    return  # stopping: whatever failed on the way out is not news
                log.exception("%s: tailing failed; retrying from the checkpoint in %.1fs", self.name, backoff)
                self.stopped.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _follow(self) -> None:
        pubsub = bus.client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(bus.key("events"), *([self.notices] if self.notices else []))
        self._after = self.position()  # from the checkpoint at each (re)start
        read = True
        try:
            while not self.stopped.is_set():
                if read:
                    self.catch_up()
                message = pubsub.get_message(timeout=self.poll_seconds)
                # Without notices, every commit is read from the log; with them, only what they
                # left out (a notice missed), and at each poll: a lost last notice only delays it.
                read = message is None or not self.notices
                while message is not None:  # and those that came meanwhile: one catch-up covers them all
                    if self.notices and message["channel"] == self.notices:
                        self.on_notice(message["data"])
                    elif str(message["data"]).isdigit():  # the engine's last position ("wake" from stop())
                        self._notified = max(self._notified, int(message["data"]))
                    message = pubsub.get_message(timeout=0)
                read = read or self._after < self._notified
        finally:
            pubsub.close()

    def stop(self) -> None:
        self.stopped.set()
        try:  # wake it now rather than at its next poll (other tailers just check and sleep again)
            bus.client().publish(bus.key("events"), "wake")
        except redis.RedisError:
            pass
