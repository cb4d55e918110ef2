"""Snapshots of the engine's state, taken off the engine: take one, decide whether one is due, and
verify one against a full replay.

Taking a snapshot reads only the database: the newest usable snapshot and the log's tail after it,
folded in the calling process (a Celery worker, `manage.py snapshot`) with the engine's own fold
(orders/engine/snapshots.py); the engine itself is never asked or paused. The log is append-only and
gapless, so the state folded up to a position read at the start is the state at that position
whatever the engine appends meanwhile.

Only one process takes a snapshot at a time (a PostgreSQL advisory lock): beat may schedule the
task again while a long one runs, and the late one then does nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from orders import calendars, store
from orders.engine import snapshot_codec as codec
from orders.engine.reference import ReferenceData
from orders.engine.snapshots import Progress, Reference, Start, fold_tail, gc_paused, restore
from orders.models import SNAPSHOT_PRUNE_SETTING, Snapshot

log = logging.getLogger("oms.snapshots")

TAKER_LOCK_KEY = 0x0E5_0002  # pg_advisory_lock key: one snapshot taker at a time


@dataclass(frozen=True)
class Taken:
    snapshot: Snapshot
    start: Start  # how the state it holds was built
    encode_seconds: float
    seconds: float

    def describe(self) -> str:
        s = self.snapshot
        return (f"snapshot {s.id} at position {s.position}: {s.orders} orders, {s.size_bytes / 1e6:.1f} MB, "
                f"from {self.start.describe()}, encoded and stored in {self.encode_seconds:.2f}s, "
                f"{self.seconds:.2f}s in all")  # fmt: skip


def current_reference() -> Reference:
    """The engine's basis and reference data, as it would load them now."""
    reference = ReferenceData()
    reference.load()
    return Reference(calendars.oms_day(), reference.margin_rates(), reference.policy)


@contextmanager
def _taker_lock() -> Iterator[bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [TAKER_LOCK_KEY])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [TAKER_LOCK_KEY])


def snapshot_take(
    *, progress: Progress | None = None, on_total: Callable[[int], None] | None = None, niceness: int = 0
) -> Taken | None:
    """Fold the newest usable snapshot and the log's tail into a new snapshot, and store it.

    None when there is nothing new since the newest usable snapshot, or another process is taking one.
    `on_total` is told how many events the fold will read (for a progress bar), `progress` each
    batch folded. With `niceness` > 0 the work runs in a thread of its own at that lower CPU priority
    (and on that thread's own database connection), so that on a busy machine it takes the CPU the
    engine and the order path leave over; the calling thread keeps its own priority."""
    if niceness > 0:
        return _at_lower_priority(niceness, lambda: snapshot_take(progress=progress, on_total=on_total))
    started = time.monotonic()
    with _taker_lock() as got:
        if not got:
            log.info("another process is taking a snapshot; not taking one")
            return None
        until = store.last_position()
        if until == 0:
            return None
        newest = Snapshot.objects.order_by("-position", "-id").values_list("position", flat=True).first()
        if on_total is not None:
            on_total(until - (newest or 0))  # at least: a snapshot skipped makes the fold longer
        reference = current_reference()
        state, start = restore(reference, until=until, progress=progress)
        if start.snapshot_position == until:
            return None  # the newest usable snapshot is already at the end of the log
        encoding = time.monotonic()
        with gc_paused():
            doc = codec.encode(state, reference.basis)
            payload = codec.pack(doc)
        snapshot = Snapshot.objects.create(
            position=state.last_position,
            schema_version=codec.SCHEMA_VERSION,
            compression=codec.COMPRESSION,
            checksum=codec.checksum(payload),
            payload=payload,
            size_bytes=len(payload),
            orders=len(state.orders),
            tail_events=start.tail_events,
            based_on=start.snapshot_position,
            took_ms=int((time.monotonic() - started) * 1000),
        )
        snapshot.payload = b""  # kept in the database; not held in memory by whoever reads the result
        done = time.monotonic()
        taken = Taken(snapshot, start, done - encoding, done - started)
    log.info("took %s", taken.describe())
    return taken


def _at_lower_priority(niceness: int, work: Callable[[], Taken | None]) -> Taken | None:
    """`work()` in a new thread whose nice value is raised by `niceness` (on Linux a nice value is
    a thread's own, so the caller's is untouched, and it need not be lowered back, which would take
    a privilege); its database connection is closed when it ends."""
    outcome: list[Taken | None] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            try:
                thread_id = threading.get_native_id()
                nice = min(19, os.getpriority(os.PRIO_PROCESS, thread_id) + niceness)
                os.setpriority(os.PRIO_PROCESS, thread_id, nice)
            except OSError as exc:  # not Linux, or refused: the snapshot still gets taken
                log.warning("cannot lower the snapshot's CPU priority (%s); taking it at normal priority", exc)
            _lower_backend_priority(niceness)
            outcome.append(work())
        except BaseException as exc:
            failure.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="snapshot", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _lower_backend_priority(niceness: int) -> None:
    """Raise the nice value of the PostgreSQL backend serving this thread's connection by
    `niceness` too: reading the tail and writing the snapshot is work of its backend, which would
    otherwise compete at full priority with the engine's commits (PostgreSQL's backends share one
    scheduling group). Only for a server on this machine (a unix socket) whose backend is a
    postgres process here; allowed to its own user or root, refused (and logged) otherwise. The
    backend ends with the connection, which `_at_lower_priority` closes."""
    host = connection.settings_dict.get("HOST") or ""
    if not host.startswith("/"):
        return  # over TCP: pg_backend_pid() may name a process of another machine
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        if b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return
        os.setpriority(os.PRIO_PROCESS, pid, min(19, os.getpriority(os.PRIO_PROCESS, pid) + niceness))
    except OSError as exc:
        log.info("cannot lower the snapshot's PostgreSQL backend's CPU priority (%s)", exc)


def snapshot_due() -> str | None:
    """Why a snapshot is due now, or None: OMS_SNAPSHOT_EVERY_EVENTS events since the newest one,
    or OMS_SNAPSHOT_SECONDS since it was taken and at least one event since."""
    newest = Snapshot.objects.order_by("-position", "-id").values("position", "created_at").first()
    since = newest["position"] if newest else 0
    events = store.last_position() - since
    if events <= 0:
        return None
    if events >= settings.OMS_SNAPSHOT_EVERY_EVENTS:
        return f"{events} events since position {since}"
    if newest is None:
        return f"{events} events and no snapshot yet"
    age = timezone.now() - newest["created_at"]
    if age >= timedelta(seconds=settings.OMS_SNAPSHOT_SECONDS):
        return f"{events} events in the {age.total_seconds():.0f}s since the newest snapshot"
    return None


def snapshot_take_if_due() -> Taken | None:
    """What the Celery task runs (beat schedules it every OMS_SNAPSHOT_CHECK_SECONDS): a snapshot
    when one is due, and then retention's prune of the older ones."""
    reason = snapshot_due()
    if reason is None:
        return None
    log.info("snapshot due: %s", reason)
    taken = snapshot_take(niceness=settings.OMS_SNAPSHOT_NICENESS)
    if taken is not None:
        snapshot_prune()
    return taken


@dataclass(frozen=True)
class Pruned:
    kept: list[int]  # positions, newest first
    deleted: list[int]


def snapshot_prune(*, keep: int | None = None, keep_days: int | None = None, dry_run: bool = False) -> Pruned:
    """Retention: delete every snapshot but the newest `keep` (OMS_SNAPSHOT_KEEP) and the last one
    taken on each of the `keep_days` (OMS_SNAPSHOT_KEEP_DAYS) days before today (the OMS's time
    zone). A snapshot is derived data, never the truth: whatever is deleted, the log can fold it
    again (and `verify_snapshot` compares the kept ones with it). Snapshots are never changed; this
    is the one way one is deleted, whole: its transaction says so to the snapshots_pruned_only
    trigger, which refuses every other DELETE, and the newest snapshot to anyone."""
    keep = settings.OMS_SNAPSHOT_KEEP if keep is None else keep
    keep_days = settings.OMS_SNAPSHOT_KEEP_DAYS if keep_days is None else keep_days
    if keep < 1 or keep_days < 0:
        raise ValueError("keep must be at least 1 and keep_days at least 0")
    today = timezone.localdate()
    kept: list[tuple[int, int]] = []
    deleted: list[tuple[int, int]] = []
    days_kept: set[date] = set()
    with transaction.atomic():
        newest_first = Snapshot.objects.order_by("-position", "-id").values_list("id", "position", "created_at")
        for index, (snapshot_id, position, created_at) in enumerate(newest_first):
            day = timezone.localdate(created_at)
            # newest first: the first one met of a day is the last taken on it
            if index < keep or (1 <= (today - day).days <= keep_days and day not in days_kept):
                kept.append((snapshot_id, position))
                days_kept.add(day)
            else:
                deleted.append((snapshot_id, position))
        if deleted and not dry_run:
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL {SNAPSHOT_PRUNE_SETTING} = 'on'")
            Snapshot.objects.filter(id__in=[snapshot_id for snapshot_id, _ in deleted]).delete()
    pruned = Pruned([p for _, p in kept], [p for _, p in deleted])
    if deleted and not dry_run:
        log.info("snapshot retention deleted %d snapshot(s) at positions %s; kept %s",
                 len(deleted), pruned.deleted, pruned.kept)  # fmt: skip
    return pruned


@dataclass(frozen=True)
class Verdict:
    position: int  # the log position both states were folded to
    start: Start  # the snapshot + tail
    replay_seconds: float
    expected_hash: str  # of the full replay
    actual_hash: str  # of the snapshot + tail
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.expected_hash == self.actual_hash


def snapshot_verify(*, position: int | None = None, progress: Progress | None = None) -> Verdict:
    """The newest usable snapshot (or the one at `position`) plus the tail, against a full replay
    of the log up to the same position: equal by state hash, or what differs. Raises
    codec.SnapshotError when the snapshot asked for cannot be used."""
    until = store.last_position()
    reference = current_reference()
    from_snapshot, start = restore(reference, until=until, progress=progress, snapshot_position=position)
    replay_started = time.monotonic()
    with gc_paused():
        replayed = reference.empty_state()
        fold_tail(replayed, reference.zone, until=until, progress=progress)
    replay_seconds = time.monotonic() - replay_started
    expected, actual = codec.state_hash(replayed), codec.state_hash(from_snapshot)
    found = []
    if expected != actual:
        found = codec.differences(replayed, from_snapshot, ("replay", "snapshot + tail"))
    return Verdict(until, start, replay_seconds, expected, actual, tuple(found))
