"""Tailing the committed log from a durable checkpoint: how anything downstream of the
engine (venue connectors, the blotter feed, reconciliation) learns what happened.

Only committed events are in the table, and positions are assigned by the single writer in
commit order without gaps, so reading "position > checkpoint" never skips a late commit.
The handler runs first and the checkpoint moves after it, so delivery is at least once:
after a crash the last batch may be handled again, and handlers must be idempotent (a venue
connector, for one, resends under the same ClOrdID, which the venue deduplicates).
The engine PUBLISHes its last position after each commit; the tailer sleeps on that
channel and also polls, so a lost notification only delays it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis
from django.db import transaction

from orders import bus, store
from orders.models import Checkpoint

log = logging.getLogger("oms.tailer")

Handler = Callable[[list[store.StoredEvent]], None]


class LogTailer:
    def __init__(self, name: str, handler: Handler, *, batch_size: int = 1000, poll_seconds: float = 1.0) -> None:
        self.name = name
        self.handler = handler
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.stopped = threading.Event()

    def position(self) -> int:
        checkpoint, _ = Checkpoint.objects.get_or_create(name=self.name)
        return checkpoint.position

    def catch_up(self) -> int:
        """Handle everything committed after the checkpoint; the number of events handled."""
        handled = 0
        after = self.position()
        while not self.stopped.is_set():
            batch = store.read_range(after, limit=self.batch_size)
            if not batch:
                break
            last = batch[-1].position  # before the handler, which may do what it likes with the list
            self.handler(batch)
            after = last
            with transaction.atomic():
                Checkpoint.objects.filter(name=self.name).update(position=after)
            handled += len(batch)
        return handled

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
        pubsub.subscribe(bus.key("events"))
        try:
            while not self.stopped.is_set():
                self.catch_up()
                pubsub.get_message(timeout=self.poll_seconds)
        finally:
            pubsub.close()

    def stop(self) -> None:
        self.stopped.set()
        try:  # wake it now rather than at its next poll (other tailers just check and sleep again)
            bus.client().publish(bus.key("events"), "wake")
        except redis.RedisError:
            pass
