"""A simulated venue's trading day, kept in SQLite so that a restart, kill -9 included, forgets
nothing a client was told: its FIX sessions' orders (resting ones back in the books at their
time priority), each session's positions (per account), the ClOrdIDs used, the OrderID and ExecID counters
(an id is never handed out twice: the OMS deduplicates on ExecID), and the reports decided but
not yet handed to quickfix. The built-in participants' orders are not kept: they requote.

Durable before report. The venue changes in memory (`Venue.changes` says what), and before
the acceptor puts a message on a session's outbox (`fix_app.VenueApplication._put`) it calls
`record`: the changed rows and the message itself are committed in one small transaction. Once
quickfix has taken the message (its own store keeps it for ResendRequests from then on) the
outbox calls `sent` and the row goes, with the next commit (the next decision, or the market data
clock's within 50 ms: a delete is not worth a commit of its own). A restart hands what is left to
the outboxes again: a report sent in those last moments comes twice, with its ExecID, which the
OMS recognises; nothing is ever lost.

SQLite in WAL mode with synchronous=NORMAL: a commit is in the WAL file (the operating system's
page cache) when it returns, which a killed process cannot undo; only a crash of the machine
itself could lose the last transactions, as it could lose quickfix's own FileStore writes.

The day. On start, a store of the same trading day is restored whole. A store of an earlier
day carries only its open GTC orders (`Venue.start_day`): positions and the ClOrdID window start
afresh, the id counters go on. A store that cannot be read is moved aside with a log line and
the venue starts empty, so a bad file never keeps it from starting.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from venues.simulator.book import BookOrder
from venues.simulator.venue import Changes, Venue

log = logging.getLogger("oms.simulator")

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, owner TEXT NOT NULL, symbol TEXT NOT NULL, fields TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cl_ord_ids (
    owner TEXT NOT NULL, cl_ord_id TEXT NOT NULL, order_id TEXT, PRIMARY KEY (owner, cl_ord_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS positions (
    owner TEXT NOT NULL, account TEXT NOT NULL, symbol TEXT NOT NULL, quantity TEXT NOT NULL,
    PRIMARY KEY (owner, account, symbol)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, message TEXT NOT NULL);
"""


def trading_day(at: datetime, day_start: time = time(0)) -> date:
    """The trading day `at` falls in: a day begins at `day_start`, UTC, the time the FIX sessions
    reset their sequence numbers (OMS_FIX_SESSION_START). The one place that says what a day is."""
    return (at.astimezone(UTC) - timedelta(hours=day_start.hour, minutes=day_start.minute,
                                           seconds=day_start.second)).date()  # fmt: skip


class StoreUnreadable(Exception):
    """The file is not a day store this code can read (corrupt, another schema, another venue)."""


@dataclass(frozen=True)
class Restored:
    """What a start found in the store, for its log line."""

    day: date
    stored_day: date | None  # None: there was no store (or it was set aside)
    orders: int
    resting: int
    positions: int
    next_order_id: int
    next_exec_id: int
    pending: int  # reports to hand to quickfix again

    def describe(self) -> str:
        ids = f"order ids from {self.next_order_id}, exec ids from {self.next_exec_id}"
        if self.stored_day is None:
            return f"trading day {self.day}: nothing stored, starting with empty books ({ids})"
        if self.stored_day != self.day:
            return (f"trading day {self.day}: a new day (the store held {self.stored_day}); carried "
                    f"{self.resting} resting GTC orders, positions start at zero ({ids})")  # fmt: skip
        return (f"trading day {self.day}: restored {self.resting} resting orders ({self.orders} orders in all), "
                f"{self.positions} positions, {self.pending} reports to resend; {ids}")  # fmt: skip


class DayStore:
    """One venue's day in one SQLite file. Thread-safe: `record` runs under the acceptor's lock,
    `sent` on the outboxes' threads."""

    def __init__(self, path: Path, venue: Venue, connection: sqlite3.Connection, day: date) -> None:
        self.path = path
        self.venue = venue
        self.day = day
        self._db = connection
        self._lock = threading.Lock()
        self._saved_ids = venue.next_ids
        self._sent: list[tuple[int]] = []  # keys of reports quickfix has, to delete with the next commit

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, venue: Venue, day: date, keeps: typing.Callable[[str], bool],
             fresh: bool = False) -> tuple[DayStore, Restored]:  # fmt: skip
        """Open (or create) the store at `path` for `venue` (just made: empty books) on trading day
        `day`, restore what it holds into the venue and start recording the changes of the owners
        `keeps` names. `fresh`: forget what is stored and start empty (ids included)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            _remove(path)
        try:
            connection, stored_day = _connect(path, venue.name)
        except (sqlite3.Error, StoreUnreadable, ValueError) as exc:
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
                raise  # another process has it (an old one still stopping): not a bad file, not to set aside
            aside = path.with_name(f"{path.name}.unreadable-{datetime.now(UTC):%Y%m%dT%H%M%S}")
            log.error("venue %s: the day store %s cannot be read (%s); moved aside to %s, starting with empty "
                      "books", venue.name, path, exc, aside.name)  # fmt: skip
            _remove(path, aside)
            connection, stored_day = _connect(path, venue.name)
        venue.changes = Changes(keeps)
        store = cls(path, venue, connection, day)
        return store, store._restore(stored_day)

    def _restore(self, stored_day: date | None) -> Restored:
        db, venue = self._db, self.venue
        ids = {key: int(value) for key, value in db.execute(
            "SELECT key, value FROM meta WHERE key IN ('next_order_id', 'next_exec_id')")}  # fmt: skip
        venue.restore_ids(ids.get("next_order_id", 1), ids.get("next_exec_id", 1))
        rows = db.execute("SELECT order_id, owner, symbol, fields FROM orders").fetchall()
        orders = [(order_of(fields), symbol) for _, _, symbol, fields in rows]
        for order, symbol in sorted(orders, key=lambda o: o[0].priority):
            if symbol not in venue.books:  # an instrument no longer traded: its orders cannot rest
                log.warning("venue %s: order %s in %s is not restored: %s is not traded here", venue.name,
                            order.order_id, symbol, symbol)  # fmt: skip
                continue
            venue.restore_order(order, symbol)
        for owner, cl_ord_id, order_id in db.execute("SELECT owner, cl_ord_id, order_id FROM cl_ord_ids"):
            venue.restore_cl_ord_id(owner, cl_ord_id, order_id if order_id and venue.order(order_id) else None)
        for owner, account, symbol, quantity in db.execute("SELECT owner, account, symbol, quantity FROM positions"):
            venue.restore_position(owner, account, symbol, Decimal(quantity))
        if stored_day is not None and stored_day != self.day:
            venue.start_day()
            self._rewrite_day()
        else:
            with db:
                self._write_meta({"trading_day": self.day.isoformat()})
        resting = sum(1 for order, _ in venue.orders() if order.open)
        positions = sum(1 for by_symbol in venue.positions.values() for qty in by_symbol.values() if qty)
        pending = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        return Restored(self.day, stored_day, len(venue.orders()), resting, positions, *venue.next_ids, pending)

    # -- recording ---------------------------------------------------------------------------------

    def record(self, reports: Sequence[tuple[str, str]] = ()) -> list[int]:
        """Commit, in one transaction, what changed in the venue since the last call and `reports`
        ((owner, FIX text) still to send); their keys for `sent`. Call before any of them leaves,
        under the acceptor's lock (the venue does not change meanwhile).

        Nothing changed for a kept owner and no reports: nothing is written, even if the id counters
        moved. Those ids went to the built-in participants only, and nobody saw them."""
        changes = self.venue.changes
        assert changes is not None, "record() needs a store opened on this venue"
        if not (reports or changes.orders or changes.positions or changes.cl_ord_ids or self._sent):
            return []
        with self._lock, self._db:
            self._write_changes(changes)
            if self._sent:
                self._db.executemany("DELETE FROM outbox WHERE id = ?", self._sent)
                self._sent = []
            return [self._db.execute("INSERT INTO outbox (owner, message) VALUES (?, ?)", report).lastrowid or 0
                    for report in reports]  # fmt: skip

    def sent(self, key: int) -> None:
        """quickfix has the report (its store keeps it from here on): its row goes with the next commit."""
        with self._lock:
            self._sent.append((key,))

    def pending(self) -> list[tuple[int, str, str]]:
        """(key, owner, message) of the reports decided but not handed to quickfix, oldest first."""
        with self._lock:
            gone = {key for (key,) in self._sent}
            rows = self._db.execute("SELECT id, owner, message FROM outbox ORDER BY id").fetchall()
            return [r for r in rows if r[0] not in gone]

    def start_day(self, day: date) -> None:
        """A new trading day while running: the venue keeps its open GTC orders and forgets the
        rest (`Venue.start_day`), and so does the store. Call under the acceptor's lock, after
        the old day's DAY orders have been expired and reported."""
        with self._lock:
            self.day = day
            self.venue.start_day()
            self._rewrite_day()

    def close(self) -> None:
        """Delete what was sent (a clean stop resends nothing), and close."""
        with self._lock:
            if self._sent:
                with self._db:
                    self._db.executemany("DELETE FROM outbox WHERE id = ?", self._sent)
                self._sent = []
            self._db.close()

    # -- internals ---------------------------------------------------------------------------------

    def _write_changes(self, changes: Changes) -> None:
        venue, db = self.venue, self._db
        upserts, gone = [], []
        for order_id in changes.orders:
            found = venue.order(order_id)
            if found is None:
                gone.append((order_id,))
            else:
                order, symbol = found
                upserts.append((order_id, order.owner, symbol, fields_of(order)))
        if upserts:
            db.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)", upserts)
        if gone:
            db.executemany("DELETE FROM orders WHERE order_id = ?", gone)
        if changes.positions:
            db.executemany("INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?)",
                           [(owner, account, symbol, str(venue.account_positions[(owner, account)][symbol]))
                            for owner, account, symbol in changes.positions])  # fmt: skip
        if changes.cl_ord_ids:
            db.executemany("INSERT OR REPLACE INTO cl_ord_ids VALUES (?, ?, ?)",
                           [(owner, cl_ord_id, venue.order_id_of(owner, cl_ord_id))
                            for owner, cl_ord_id in changes.cl_ord_ids])  # fmt: skip
        changes.orders.clear()
        changes.positions.clear()
        changes.cl_ord_ids.clear()
        if venue.next_ids != self._saved_ids:
            next_order_id, next_exec_id = venue.next_ids
            self._write_meta({"next_order_id": str(next_order_id), "next_exec_id": str(next_exec_id)})
            self._saved_ids = venue.next_ids

    def _write_meta(self, values: dict[str, str]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def _rewrite_day(self) -> None:
        """Write the venue's day as it now stands, whole (a day change: a rare, bigger write)."""
        venue, db = self.venue, self._db
        assert venue.changes is not None
        keeps = venue.changes.keeps
        with db:
            db.execute("DELETE FROM orders")
            db.execute("DELETE FROM cl_ord_ids")
            db.execute("DELETE FROM positions")
            db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)",
                           [(o.order_id, o.owner, symbol, fields_of(o)) for o, symbol in venue.orders()
                            if keeps(o.owner)])  # fmt: skip
            db.executemany("INSERT INTO cl_ord_ids VALUES (?, ?, ?)",
                           [(owner, cl_ord_id, order_id) for (owner, cl_ord_id), order_id in venue.cl_ord_ids().items()
                            if keeps(owner)])  # fmt: skip
            db.executemany("INSERT INTO positions VALUES (?, ?, ?, ?)",
                           [(owner, account, symbol, str(qty)) for (owner, account), by_symbol
                            in venue.account_positions.items() for symbol, qty in by_symbol.items()
                            if keeps(owner)])  # fmt: skip
            next_order_id, next_exec_id = venue.next_ids
            self._write_meta({"trading_day": self.day.isoformat(), "next_order_id": str(next_order_id),
                              "next_exec_id": str(next_exec_id)})  # fmt: skip
            self._saved_ids = venue.next_ids
        venue.changes = Changes(keeps)  # all written


def _connect(path: Path, venue_name: str) -> tuple[sqlite3.Connection, date | None]:
    """A connection to the store at `path` (made if missing) and the trading day it holds (None:
    a new store). Raises StoreUnreadable, sqlite3.Error or ValueError for a file it cannot use."""
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process (see above)
        connection.executescript(SCHEMA)
        connection.isolation_level = ""  # `with connection:` makes each write one transaction
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            with connection:
                connection.executemany("INSERT INTO meta VALUES (?, ?)",
                                       [("schema", str(SCHEMA_VERSION)), ("venue", venue_name)])  # fmt: skip
            return connection, None
        if meta.get("schema") != str(SCHEMA_VERSION) or meta.get("venue") != venue_name:
            raise StoreUnreadable(f"schema {meta.get('schema')} of venue {meta.get('venue')}, "
                                  f"not schema {SCHEMA_VERSION} of {venue_name}")  # fmt: skip
        connection.execute("PRAGMA quick_check").fetchall()
        rows = connection.execute("SELECT fields FROM orders").fetchall()
        for (fields,) in rows:
            order_of(fields)  # every row must read back, or none is trusted
        stored = meta.get("trading_day")
        return connection, date.fromisoformat(stored) if stored else None
    except BaseException:
        connection.close()
        raise


def _remove(path: Path, aside: Path | None = None) -> None:
    """Take the store (and its WAL and shared-memory files) away: moved to `aside`, or deleted."""
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if not part.exists():
            continue
        if aside is not None:
            part.rename(aside.with_name(aside.name + suffix))
        else:
            part.unlink()


# -- orders as rows: every BookOrder field by name, so a field added later is kept too ------------------


_FIELDS = tuple(f.name for f in dataclasses.fields(BookOrder))


def fields_of(order: BookOrder) -> str:
    return json.dumps({name: getattr(order, name) for name in _FIELDS}, default=_plain)


def _plain(value: Any) -> Any:
    """What JSON cannot write itself (a StrEnum it writes as its value)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"an order field of type {type(value).__name__} cannot be kept")


def order_of(text: str) -> BookOrder:
    """The BookOrder a row holds. A field the row lacks takes its default; one the code no longer
    has is ignored. Raises ValueError for a row that is not an order."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"an order row is a JSON object, not {text[:40]!r}")
    hints = typing.get_type_hints(BookOrder)
    try:
        return BookOrder(**{name: _typed(hints[name], value) for name, value in data.items() if name in hints})
    except (TypeError, ArithmeticError) as exc:
        raise ValueError(f"not an order row: {exc}") from exc


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) else (hint,)
    for kind in kinds:
        if kind is Decimal:
            return Decimal(value)
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(value)
    return value
