"""Rebuild the projections from the log, and verify live projections against a rebuild.

Verification runs while the engine keeps trading: in one REPEATABLE READ transaction it
copies the live projections aside, creates empty temporary tables with the projections'
own names (PostgreSQL resolves unqualified names to temporary tables first, so the very
same receivers write into them), replays the log through `events_appended`, compares row
by row and rolls everything back. A plain rebuild writes the real tables and therefore
needs the engine stopped: it takes the writer lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction

from orders import store
from orders.engine import WRITER_LOCK_KEY, WriterLockHeld
from orders.models import ClOrdIdClaim, Fill, Order, Position, PositionAdjustment


@dataclass(frozen=True)
class Projection:
    table: str
    key: tuple[str, ...]
    compared: tuple[str, ...]


def _projection(model, key: tuple[str, ...], skip: tuple[str, ...] = ()) -> Projection:
    columns = tuple(f.column for f in model._meta.concrete_fields if f.column not in skip)
    return Projection(model._meta.db_table, key, columns)


PROJECTIONS = (
    _projection(Order, ("id",)),
    _projection(Fill, ("id",)),
    # a position's surrogate id depends on insertion order; its identity is (account, symbol)
    _projection(Position, ("account_code", "symbol"), skip=("id",)),
    _projection(ClOrdIdClaim, ("account_code", "trading_day", "cl_ord_id"), skip=("id",)),
    _projection(PositionAdjustment, ("id",)),
)


@dataclass
class Difference:
    table: str
    key: tuple
    live: dict | None
    rebuilt: dict | None

    def describe(self) -> str:
        name = f"{self.table} {'/'.join(map(str, self.key))}"
        if self.rebuilt is None:
            return f"{name}: in the live projection only"
        if self.live is None:
            return f"{name}: missing from the live projection"
        changed = [
            f"{column}: live={self.live[column]!r} rebuilt={self.rebuilt[column]!r}"
            for column in self.live
            if self.live[column] != self.rebuilt[column]
        ]
        return f"{name}: " + "; ".join(changed)


Progress = Callable[[int], None]


def _replay(progress: Progress | None, batch_size: int) -> int:
    count = 0
    for batch in store.iter_batches(batch_size=batch_size):
        store.events_appended.send(sender=store.StoredEvent, events=batch)
        count += len(batch)
        if progress:
            progress(len(batch))
    return count


def event_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events")
        return cursor.fetchone()[0]


def rebuild(progress: Progress | None = None, batch_size: int = 10_000) -> int:
    """Regenerate every projection from the log. Raises WriterLockHeld while an engine runs."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [WRITER_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise WriterLockHeld("an engine holds the writer lock")
            cursor.execute(f"TRUNCATE {', '.join(p.table for p in PROJECTIONS)}")
        return _replay(progress, batch_size)


def verify(progress: Progress | None = None, batch_size: int = 10_000) -> tuple[int, list[Difference]]:
    """Compare the live projections with a rebuild from the same snapshot of the log. Changes nothing."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            if outermost:  # inside a caller's transaction (a test's), its isolation stands
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for p in PROJECTIONS:
                cursor.execute(f"CREATE TEMP TABLE live_{p.table} ON COMMIT DROP AS SELECT * FROM public.{p.table}")
                cursor.execute(f"CREATE TEMP TABLE {p.table} (LIKE public.{p.table} INCLUDING ALL) ON COMMIT DROP")
        replayed = _replay(progress, batch_size)
        differences: list[Difference] = []
        with connection.cursor() as cursor:
            for p in PROJECTIONS:
                differences.extend(_compare(cursor, p))
        transaction.set_rollback(True)
    return replayed, differences


def _compare(cursor, p: Projection) -> list[Difference]:
    columns = ", ".join(p.compared)

    def rows(sql: str) -> dict[tuple, dict]:
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        found = {}
        for row in cursor.fetchall():
            record = dict(zip(names, row))
            found[tuple(record[k] for k in p.key)] = record
        return found

    only_live = rows(f"SELECT {columns} FROM live_{p.table} EXCEPT SELECT {columns} FROM pg_temp.{p.table}")
    only_rebuilt = rows(f"SELECT {columns} FROM pg_temp.{p.table} EXCEPT SELECT {columns} FROM live_{p.table}")
    differences = []
    for key in sorted(set(only_live) | set(only_rebuilt), key=str):
        differences.append(Difference(p.table, key, only_live.get(key), only_rebuilt.get(key)))
    return differences
