"""Where an engine's state starts: the newest usable snapshot, and the log's tail folded onto it.

The engine starts here (and recovers here after a failed commit); so do the snapshot service, which
folds the tail into the next snapshot, and `verify_snapshot`. The tail is folded with the very
`EngineState.fold` a full replay uses, so a snapshot can only save time, never change the state.

A snapshot that cannot be used is skipped with one log line saying why, and the next older one is
tried; with none left, the whole log is replayed. Unusable means: its payload fails its checksum,
does not decompress or parse, has a schema version this code does not know, was folded on another
basis (the OMS's trading calendar, the duplicate window: snapshot_codec.Basis), or claims a position past the end
of the log (a database restored without its newest events).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from orders import store
from orders.domain.calendar import Zone
from orders.engine import snapshot_codec as codec
from orders.engine.state import EngineState
from orders.models import Snapshot
from risk.domain import DuplicateWindow, RiskPolicy, RiskUsage
from risk.domain.usage import MarginRates

log = logging.getLogger("oms.snapshots")

TAIL_BATCH = 20_000

Progress = Callable[[int], None]  # called with the number of events just folded


@dataclass(frozen=True)
class Reference:
    """What a state is folded with besides the log: the OMS's trading day and the reference data."""

    zone: Zone  # the OMS's trading calendar, as EngineState.fold takes it
    margin_rates: MarginRates | None
    policy: RiskPolicy

    @property
    def basis(self) -> codec.Basis:
        return codec.Basis.of(self.zone, self.policy)

    def empty_state(self) -> EngineState:
        """As Engine._empty_state sets it up: a state to fold the whole log into."""
        return EngineState(usage=RiskUsage(self.margin_rates), duplicates=DuplicateWindow(self.policy))


@dataclass
class Start:
    """How a state was built: from a snapshot plus the tail, or by replaying the whole log."""

    snapshot_id: int | None = None
    snapshot_position: int | None = None
    tail_events: int = 0
    seconds: float = 0.0
    decode_seconds: float = 0.0  # of `seconds`: reading and decoding the snapshot
    skipped: list[str] = field(default_factory=list)  # why each newer snapshot was not used

    @property
    def from_snapshot(self) -> bool:
        return self.snapshot_id is not None

    def describe(self) -> str:
        """Where the state came from, and the time each part took."""
        if self.from_snapshot:
            tail = self.seconds - self.decode_seconds
            return (f"snapshot at position {self.snapshot_position} + {self.tail_events} tail events "
                    f"(snapshot read {self.decode_seconds:.2f}s, tail {tail:.2f}s)")  # fmt: skip
        return f"full replay of {self.tail_events} events ({self.seconds:.2f}s)"

    def as_health(self) -> dict[str, object]:
        return {
            "path": "snapshot" if self.from_snapshot else "replay",
            "snapshot_position": self.snapshot_position,
            "tail_events": self.tail_events,
            "seconds": round(self.seconds, 3),
            "decode_seconds": round(self.decode_seconds, 3),
            "skipped": len(self.skipped),
        }


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a state of millions of objects is built: nothing built
    here is garbage, yet each collection would walk all of it (it trebles a snapshot's read)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def restore(reference: Reference, *, until: int | None = None, progress: Progress | None = None,
            snapshot_position: int | None = None, use_snapshots: bool = True) -> tuple[EngineState, Start]:  # fmt: skip
    """The state at log position `until` (default: the end of the log): the newest usable snapshot
    at or before it (or, given `snapshot_position`, that one, raising SnapshotError if unusable)
    plus the events after it; without `use_snapshots`, the whole log.

    Precondition: the engine's callers hold the writer lock, so the log ends where they read it."""
    started = time.monotonic()
    start = Start()
    with gc_paused():
        gc.unfreeze()  # what an earlier restore froze (a state since replaced) is collectable again
        loaded = load(reference, until=until, exact=snapshot_position, skipped=start.skipped) if use_snapshots else None
        start.decode_seconds = time.monotonic() - started
        if loaded is None:
            state = reference.empty_state()
        else:
            row, state = loaded
            start.snapshot_id, start.snapshot_position = row.id, row.position
        start.tail_events = fold_tail(state, reference.zone, until=until, progress=progress)
        # Before collection resumes: the millions of objects just built were all allocated while
        # it was paused, so each is still in the youngest generation, and the first collections
        # after it resumes would walk them all (a second of CPU before the engine is live, and
        # again each time they move up a generation). Frozen, no collection walks them; they are
        # freed by reference counting as ever (the state holds no cycles).
        gc.freeze()
    start.seconds = time.monotonic() - started
    return state, start


def fold_tail(state: EngineState, zone: Zone, *, until: int | None = None, progress: Progress | None = None) -> int:
    """Fold the log after the state's last position (up to `until`) into it; the events folded."""
    count = 0
    for batch in store.iter_batches(after=state.last_position, until=until, batch_size=TAIL_BATCH):
        fold = state.fold
        for stored in batch:
            fold(stored, zone)
        count += len(batch)
        if progress is not None:
            progress(len(batch))
    return count


def load(reference: Reference, *, until: int | None = None, exact: int | None = None,
         skipped: list[str] | None = None) -> tuple[Snapshot, EngineState] | None:  # fmt: skip
    """The newest usable snapshot at or before `until`, decoded; None if there is none. Each one
    skipped is logged, and its reason appended to `skipped`."""
    end = store.last_position() if until is None else until
    candidates = Snapshot.objects.all() if until is None else Snapshot.objects.filter(position__lte=end)
    if exact is not None:
        candidates = candidates.filter(position=exact)
    for row in candidates.order_by("-position", "-id").only("id", "position").iterator():
        try:
            if row.position > end:
                raise codec.SnapshotError(f"it is past the end of the log (position {end})")
            return row, read(row.id, reference)
        except codec.SnapshotError as exc:
            if exact is not None:
                raise
            reason = f"snapshot {row.id} at position {row.position} skipped: {exc}"
            log.warning("%s; trying an older one", reason)
            if skipped is not None:
                skipped.append(reason)
    if exact is not None:
        raise codec.SnapshotError(f"no snapshot at position {exact} (at most {end})")
    return None


def read(snapshot_id: int, reference: Reference) -> EngineState:
    """One stored snapshot, checked and decoded. Raises SnapshotError if it cannot be used."""
    row = Snapshot.objects.filter(id=snapshot_id).first()
    if row is None:  # retention deleted it since it was listed
        raise codec.SnapshotError("it was deleted (snapshot retention) while the engine started")
    payload = bytes(row.payload)
    actual = codec.checksum(payload)
    if actual != row.checksum:
        raise codec.SnapshotError(f"checksum mismatch (stored {row.checksum[:12]}..., payload {actual[:12]}...)")
    if row.schema_version > codec.SCHEMA_VERSION:
        raise codec.UnknownVersion(f"schema version {row.schema_version} is newer than this code reads")
    doc = codec.unpack(payload, row.compression)
    try:
        state = codec.decode(doc, reference.basis, reference.margin_rates, reference.policy)
    except codec.SnapshotError:
        raise
    except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise codec.SnapshotError(f"payload does not decode ({type(exc).__name__}: {exc})") from exc
    if state.last_position != row.position:
        raise codec.SnapshotError(f"holds position {state.last_position}, recorded as {row.position}")
    return state
