"""The FIX message log: every message a client session sends or is sent, written to the
database in batches by a thread of its own, so the order path never waits for it.

quickfix's callbacks only put (session, direction, text, time) on a queue; the writer reads the
fields compliance searches by (34, 35, 43, 11, 41, 37, 1) and inserts up to BATCH rows at a time,
every FLUSH_SECONDS or sooner when a batch is full. A database that cannot be written to is
retried; nothing queued is dropped. Heartbeats and TestRequests are left out: they say nothing
about orders and would be most of the table. quickfix's own file log under var/ keeps every
message too: it covers the instant before a kill -9 that the queue cannot.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from datetime import UTC, datetime
from time import time_ns

from django.db import connection

from gateway.models import FixMessage

log = logging.getLogger("oms.gateway")

FLUSH_SECONDS = 0.2
BATCH = 2000
NOT_RECORDED = frozenset({"0", "1"})  # Heartbeat, TestRequest
FIELD = re.compile(r"(?:^|\x01)(\d+)=([^\x01]*)")
WANTED = {"34", "35", "43", "11", "41", "37", "1"}


def fields_of(raw: str) -> dict[str, str]:
    """The first value of each tag compliance searches by (repeating groups never carry them)."""
    found: dict[str, str] = {}
    for tag, value in FIELD.findall(raw):
        if tag in WANTED and tag not in found:
            found[tag] = value
    return found


def row_for(session: str, direction: str, raw: str, at_ns: int) -> FixMessage:
    fields = fields_of(raw)
    seq = fields.get("34", "")
    return FixMessage(
        session=session, direction=direction, msg_seq_num=int(seq) if seq.isdigit() else None,
        msg_type=fields.get("35", "")[:4], poss_dup=fields.get("43") == "Y", cl_ord_id=fields.get("11", "")[:64],
        orig_cl_ord_id=fields.get("41", "")[:64], order_id=fields.get("37", "")[:64],
        account=fields.get("1", "")[:64], at=datetime.fromtimestamp(at_ns / 1e9, UTC), raw=raw,
    )  # fmt: skip


class AuditTrail:
    def __init__(self, stopped: threading.Event) -> None:
        self._queue: queue.SimpleQueue[tuple[str, str, str, int]] = queue.SimpleQueue()
        self._stopped = stopped
        self._thread = threading.Thread(target=self._run, name="fix-audit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def record(self, session: str, direction: str, raw: str) -> None:
        """On quickfix's (or the front door's) thread: costs a queue put, nothing more."""
        msg_type = raw.partition("\x0135=")[2][:2].rstrip("\x01")
        if msg_type not in NOT_RECORDED:
            self._queue.put((session, direction, raw, time_ns()))

    def stop(self) -> None:
        """Write what is queued, then return (the gateway's stop)."""
        self._thread.join(timeout=10)
        self._write(self._drain())

    def _run(self) -> None:
        pending: list[tuple[str, str, str, int]] = []
        while not self._stopped.is_set():
            try:
                pending.append(self._queue.get(timeout=FLUSH_SECONDS))
            except queue.Empty:
                pass
            pending.extend(self._drain(BATCH - len(pending)))
            if not pending:
                continue
            if self._write(pending):
                pending = []
            elif len(pending) > 100_000:
                log.error("FIX message log: %d messages waiting for the database", len(pending))
        self._queue_back(pending)

    def _drain(self, limit: int = 1 << 62) -> list[tuple[str, str, str, int]]:
        drained = []
        while len(drained) < limit:
            try:
                drained.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return drained

    def _queue_back(self, pending: list[tuple[str, str, str, int]]) -> None:
        for item in pending:
            self._queue.put(item)

    def _write(self, pending: list[tuple[str, str, str, int]]) -> bool:
        if not pending:
            return True
        try:
            FixMessage.objects.bulk_create([row_for(*item) for item in pending])
            return True
        except Exception:
            log.exception("FIX message log: could not write %d messages; trying again", len(pending))
            connection.close()
            self._stopped.wait(1.0)
            return False
