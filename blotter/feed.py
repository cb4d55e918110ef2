"""The blotter feed: one process (`manage.py run_blotter_feed`, started by `make run`) that tails
the committed log and sends every change to the Channels groups of the accounts it concerns
(groups.py). It runs outside the web workers, so any number of them serve the same feed, and it
reads only committed events, never from inside the engine's transaction.

Frames and their chain. A batch of the log becomes one frame per group that has messages in it.
Each frame (and each heartbeat) names `upto`, the batch's last position, and `prev`, the `upto`
of the previous frame sent to that group (None after the feed starts). A consumer that holds a
group's frames up to `prev` has them all; one that does not (the channel layer drops messages
for a consumer whose channel is full; the feed restarted) reads what it missed from the log
itself (consumers.py). So the feed keeps no durable place: it starts at the end of the log.

Every HEARTBEAT_SECONDS it also sends each group a heartbeat (everything up to a position was
sent), the market to everyone (bid/ask/last and the reference per instrument, as
GET /api/v1/instruments/ shows them) and the accounts' risk usage to those who see all.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict
from typing import Any

from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import close_old_connections

from blotter.groups import ALL, PUBLIC, account_group, groups_of, user_group
from blotter.messages import OrderStates, messages_for
from orders import references, store
from orders.models import Account, Checkpoint, Instrument
from orders.serializers import InstrumentSerializer
from orders.tailer import LogTailer
from risk import services as risk_services
from risk.serializers import AccountUsageSerializer

log = logging.getLogger("oms.blotter")

CHECKPOINT = "blotter-feed"
HEARTBEAT_SECONDS = 2.0
MARKET_SECONDS = 1.0


class Sender:
    """Group sends, in order, from one thread with its own event loop: the tailer's thread and
    the timer's hand messages over and never wait for Redis."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, dict[str, Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="blotter-send", daemon=True)
        self._thread.start()

    def send(self, group: str, message: dict[str, Any]) -> None:
        self._queue.put((group, message))

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    async def _run(self) -> None:
        layer = get_channel_layer()
        loop = asyncio.get_running_loop()
        while (item := await loop.run_in_executor(None, self._queue.get)) is not None:
            group, message = item
            try:
                await layer.group_send(group, message)
            except Exception:  # Redis away: consumers find the gap by the chain and read the log
                log.exception("could not send to %s", group)


class Feed:
    """The tailer's handler, and the timer's sends."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.states = OrderStates()
        self.prev: dict[str, int | None] = {}
        self.last = 0
        self._lock = threading.Lock()  # the chain: frames and heartbeats of a group in order

    def __call__(self, batch: list[store.StoredEvent]) -> None:
        upto = batch[-1].position
        frames: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for outgoing in messages_for(batch, self.states):
            for group in groups_of(outgoing.account, outgoing.trader, outgoing.oversight):
                frames[group].append(outgoing.message)
        with self._lock:
            for group, messages in frames.items():
                self._chained(group, "blotter.frame", upto, messages=messages)
            self.last = upto

    def heartbeat(self, accounts: list[str], usernames: list[str]) -> None:
        with self._lock:
            for group in (PUBLIC, ALL, *map(account_group, accounts), *map(user_group, usernames)):
                self._chained(group, "blotter.heartbeat", self.last)

    def _chained(self, group: str, kind: str, upto: int, **fields: Any) -> None:
        self.sender.send(group, {"type": kind, "group": group, "prev": self.prev.get(group), "upto": upto, **fields})
        self.prev[group] = upto

    def market(self) -> None:
        rows = InstrumentSerializer(Instrument.objects.filter(active=True).order_by("symbol"), many=True,
                                    context={"references": references.read()}).data  # fmt: skip
        self.sender.send(PUBLIC, {"type": "blotter.market", "position": self.last, "instruments": list(rows)})

    def usage(self) -> None:
        rows = AccountUsageSerializer(risk_services.usage_of_every_account(), many=True).data
        self.sender.send(ALL, {"type": "blotter.usage", "position": self.last, "accounts": list(rows)})


def run(stopped: threading.Event) -> None:
    # Start at the end of the log: what happened while the feed was away, each consumer reads
    # from the log itself when the chain shows it a gap.
    last = store.last_position()
    Checkpoint.objects.update_or_create(name=CHECKPOINT, defaults={"position": last})
    sender = Sender()
    feed = Feed(sender)
    feed.last = last
    tailer = LogTailer(CHECKPOINT, feed, batch_size=2000, poll_seconds=0.5)
    threading.Thread(target=tailer.run, name="blotter-tail", daemon=True).start()
    log.info("blotter feed from position %d", last)
    next_heartbeat = 0.0
    try:
        while not stopped.wait(MARKET_SECONDS):
            try:
                close_old_connections()
                feed.market()
                feed.usage()
                if time.monotonic() >= next_heartbeat:
                    users = get_user_model().objects.filter(is_active=True)
                    feed.heartbeat(list(Account.objects.values_list("code", flat=True)),
                                   list(users.values_list("username", flat=True)))  # fmt: skip
                    next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
            except Exception:  # the database or Redis away: say so, keep going
                log.exception("blotter feed: market/usage/heartbeat not sent; trying again")
    finally:
        tailer.stop()
        sender.stop()
