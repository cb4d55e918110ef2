"""Out: the log to a client. A `LogTailer` per client session (checkpoint `fix-client:<CompID>`)
reads committed events and sends a report for every change of the session's orders, so nothing
reaches a client before its event is in the log, and while the client is away the tailer waits,
holding its place.

Whose order. An order is the session's when its first event (OrderAccepted / OrderRejected) was
caused by the session (actor `fix:<CompID>`) and it is not a child: children are internal, the
client sees its parent. The first event carries that; for an order first seen mid-stream (after a
restart) the log's first event of the stream is read once.

The order as it was. Each report carries the order as the event left it (the fold of its stream
up to that event), not as the projection shows it now, so a re-send says what the first send said.

Exactly once. The checkpoint moves after a batch is sent; a crash in between would send the batch
again. So at start the session's FileStore (every message sent today) is read for the highest
ExecID "E<position>" it holds, and the tailer starts after it: a report already sent is never sent
again with a new MsgSeqNum (the client's ResendRequest gets it from the store, PossDup). An
OrderCancelReject (35=9) has no ExecID: one sent in the last instant before a crash may go twice.
A batch with no report for the session moves the checkpoint lazily (orders/tailer.py): read again
after a crash, it sends nothing again.

One read for every session. Each commit wakes every session's tailer, and each asks for the same
new events: `RecentEvents` reads them from the database for the first to ask and serves the others
from memory. A tailer further behind (its session was down) reads the database itself.
"""

from __future__ import annotations

import logging
import re
import threading
from bisect import bisect_right
from pathlib import Path

from gateway.domain.reports import exec_id_of, report_for
from gateway.fix.link import ClientLink
from gateway.fix.messages import message_for, transact_time
from orders import store
from orders.domain import events as ev
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.models import Checkpoint, Event
from orders.tailer import LogTailer, read_log

log = logging.getLogger("oms.gateway")

MESSAGE_START = re.compile(rb"8=FIX[^\x01]*\x01")
SENT_EXEC_ID = re.compile(rb"\x0117=E(\d+)\x01")
SENT_ORDER_ID = re.compile(rb"\x0137=(\d+)\x01")
SENT_TRANSACT_TIME = re.compile(rb"\x0160=([^\x01]+)\x01")


def checkpoint_name(comp_id: str) -> str:
    return f"fix-client:{comp_id}"


class Tracked:
    """An order of the session's, as its events so far leave it."""

    __slots__ = ("fill_exec_ids", "state")

    def __init__(self) -> None:
        self.state: OrderState | None = None
        self.fill_exec_ids: dict[str, str] = {}  # the venue's ExecID of a fill -> the client's

    def apply(self, stored: store.StoredEvent) -> tuple[OrderState | None, OrderState]:
        before = self.state
        event = stored.event
        self.state = apply(before, event)
        if isinstance(event, ev.FILL_EVENTS):
            self.fill_exec_ids[event.exec_id] = exec_id_of(stored.position)
        return before, self.state


class ClientFeed:
    """The tailer's handler for one client session."""

    def __init__(self, link: ClientLink) -> None:
        self.link = link
        self.orders: dict[int, Tracked] = {}
        self.others: set[int] = set()  # orders known not to be the session's

    def __call__(self, batch: list[store.StoredEvent]) -> bool:
        """Sends the batch's reports for the session; whether there were any."""
        # Whose order is decided by who placed it, never by the session's accounts now: an account
        # taken off the session in admin still has this session's orders reported to it.
        wanted = [s for s in batch if s.stream_type == store.ORDER_STREAM and s.stream_id not in self.others]
        if not wanted:
            return False
        self._learn_owners(wanted)
        sent = False
        for stored in wanted:
            tracked = self.orders.get(stored.stream_id)
            if tracked is None:
                continue
            if tracked.state is None and stored.stream_version > 1:
                self._fold_history(tracked, stored)
            before, after = tracked.apply(stored)
            report = report_for(stored.position, stored.event, before, after, tracked.fill_exec_ids)
            if report is not None:
                self.link.send(message_for(report))
                sent = True
        return sent

    def _learn_owners(self, wanted: list[store.StoredEvent]) -> None:
        unknown = set()
        for stored in wanted:
            if stored.stream_id in self.orders or stored.stream_id in self.others:
                continue
            if stored.stream_version == 1:
                self._own(stored.stream_id, stored.actor, stored.payload.get("parent_id"))
            else:
                unknown.add(stored.stream_id)
        if unknown:
            firsts = Event.objects.filter(stream_type=store.ORDER_STREAM, stream_id__in=unknown, stream_version=1)
            for stream_id, actor, payload in firsts.values_list("stream_id", "actor", "payload"):
                self._own(stream_id, actor, payload.get("parent_id"))

    def _own(self, order_id: int, actor: str, parent_id: int | None) -> None:
        if actor == self.link.actor and parent_id is None:
            self.orders[order_id] = Tracked()
        else:
            self.others.add(order_id)

    def _fold_history(self, tracked: Tracked, upto: store.StoredEvent) -> None:
        for stored in store.read_stream(upto.stream_id):
            if stored.position >= upto.position:
                break
            tracked.apply(stored)


class RecentEvents:
    """The log's latest events, shared by the session tailers: a `Reader` (orders/tailer.py)."""

    def __init__(self, keep: int = 5000) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._events: list[store.StoredEvent] = []  # every event after `_after` up to `_last`, in order
        self._after: int | None = None
        self._last = 0

    def read(self, after: int, limit: int) -> list[store.StoredEvent]:
        with self._lock:
            if self._after is None or after < self._after or after > self._last:
                if self._after is not None and after < self._after:
                    return read_log(after, limit)  # older than what is kept: this tailer's alone
                self._events, self._after, self._last = [], after, after  # (re)start where it asks
            if after < self._last:
                start = bisect_right(self._events, after, key=lambda e: e.position)
                return self._events[start : start + limit]
            fresh = read_log(after, limit)  # after == _last: new events, for everyone
            if fresh:
                self._events.extend(fresh)
                self._last = fresh[-1].position
                if len(self._events) > 2 * self.keep:
                    self._after = self._events[-self.keep - 1].position
                    del self._events[: -self.keep]
            return fresh


def last_sent(store_dir: Path, sender: str, target: str) -> tuple[int, int, str] | None:
    """(position, order id, 60 TransactTime) of the last event whose report the session's FileStore
    holds as sent today, or None."""
    body = store_dir / f"FIX.4.4-{sender}-{target}.body"
    try:
        data = body.read_bytes()
    except FileNotFoundError:
        return None
    last = None
    for message in MESSAGE_START.split(data):
        exec_id, order_id = SENT_EXEC_ID.search(message), SENT_ORDER_ID.search(message)
        at = SENT_TRANSACT_TIME.search(message)
        if exec_id and order_id and at and (last is None or int(exec_id.group(1)) > last[0]):
            last = int(exec_id.group(1)), int(order_id.group(1)), at.group(1).decode()
    return last


def client_tailer(link: ClientLink, *, store_dir: Path, sender: str, recent: RecentEvents) -> LogTailer:
    """The session's tailer, its checkpoint moved past what its FileStore shows sent. A session
    seen for the first time starts at the end of the log: only this gateway places its orders,
    so there is nothing of its before."""
    name = checkpoint_name(link.comp_id)
    checkpoint, _ = Checkpoint.objects.get_or_create(name=name, defaults={"position": store.last_position()})
    sent = last_sent(store_dir, sender, link.comp_id)
    if sent is not None and sent[0] > checkpoint.position:
        position, order_id, at = sent
        # Only if the log has that event, of that order, at that time: a store kept beside another
        # database (a test database made again, a restored backup) says nothing about this log.
        event = Event.objects.filter(position=position, stream_type=store.ORDER_STREAM, stream_id=order_id).first()
        if event is not None and transact_time(event.occurred_at_ns) == at:
            log.info("%s: reports up to position %d were sent before a restart; continuing after it",
                     link.comp_id, position)  # fmt: skip
            Checkpoint.objects.filter(name=name).update(position=position)
        else:
            log.warning("%s: the FileStore's reports are not of this log; it is not used to skip any", link.comp_id)
    return LogTailer(name, ClientFeed(link), read=recent.read)
