"""What keeping its day costs a simulated venue: the acceptor's decision for a NewOrderSingle
(`VenueApplication.fromApp`, quickfix's callback, without the socket) with the day store
(venues/simulator/persistence.py: one SQLite commit of the changed rows and the reports before
they leave, with the deletes of the reports sent since the last) beside the same without it, in
the same run.

Each pair of orders is one that rests (its ack kept) and one that crosses it (the aggressor's
ack and fill and the resting side's fill kept, both orders and both positions written).

    python bench/venue_day.py [--orders N] [--quick]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import quickfix as fix
from common import parse_args, row, summary_ms

from venues.simulator.fix_app import VenueApplication
from venues.simulator.persistence import DayStore
from venues.simulator.venue import InstrumentSpec, Venue

SESSIONS = ("OMS", "CPTY")


class SendingOutbox:
    """A session's outbox that hands each message over at once, as the sender thread does, and
    says so to the store (its delete is part of the cost)."""

    def put(self, message: fix.Message, not_before: float, sent=None) -> None:
        if sent is not None:
            sent()


def order(cl_ord_id: str, side: str, price: Decimal) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, "D")
    for tag, value in ((11, cl_ord_id), (55, "AAPL"), (54, side), (38, "100"), (40, "2"), (44, str(price)),
                       (59, "0"), (60, "20260302-12:00:00")):  # fmt: skip
        message.setField(tag, value)
    return message


def decisions(n: int, store_dir: Path | None) -> tuple[list[float], list[float]]:
    """(resting orders, crossing orders): seconds each fromApp took."""
    venue = Venue("XBENCH", [InstrumentSpec("AAPL", Decimal("0.01"), Decimal(1))])
    store = None
    if store_dir is not None:
        store, _ = DayStore.open(store_dir / "day.sqlite3", venue, _today(), set(SESSIONS).__contains__)
    app = VenueApplication(venue, journal=store)
    for session in SESSIONS:
        app.outboxes[session] = SendingOutbox()  # type: ignore[assignment]
    oms, cpty = (fix.SessionID("FIX.4.4", "XBENCH", s) for s in SESSIONS)
    resting, crossing = [], []
    for i in range(n):
        price = Decimal(100) - Decimal(i % 500) / 100
        for session, side, times in ((oms, "1", resting), (cpty, "2", crossing)):
            message = order(f"{side}-{i}", side, price)
            started = time.perf_counter()
            app.fromApp(message, session)
            times.append(time.perf_counter() - started)
    if store is not None:
        store.close()
    return resting, crossing


def sqlite_commits(n: int, directory: Path) -> list[float]:
    """The floor: one small INSERT + COMMIT each, in a WAL database with synchronous=NORMAL, as the store's."""
    db = sqlite3.connect(directory / "floor.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        with db:
            db.execute("BEGIN")
            db.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))
        latencies.append(time.perf_counter() - started)
    db.close()
    return latencies


def _today():
    from datetime import UTC, datetime

    return datetime.now(UTC).date()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000, help="pairs of orders (one rests, one crosses it)")
    args = parse_args(parser, orders=2_000)
    print(f"Simulated venue: the acceptor's decision per NewOrderSingle, {args.orders} pairs, without and with "
          "its day store")  # fmt: skip
    decisions(min(args.orders, 500), None)  # warm up
    bare_rest, bare_cross = decisions(args.orders, None)
    with tempfile.TemporaryDirectory() as tmp:
        kept_rest, kept_cross = decisions(args.orders, Path(tmp))
        floor = sqlite_commits(args.orders, Path(tmp))
    row("baseline: SQLite INSERT + COMMIT (WAL, synchronous=NORMAL)", summary_ms(floor))
    row("baseline: resting order (1 report), in memory", summary_ms(bare_rest))
    row("baseline: crossing order (3 reports), in memory", summary_ms(bare_cross))
    row("kept: resting order, 1 commit", summary_ms(kept_rest))
    row("kept: crossing order, 1 commit", summary_ms(kept_cross))
    extra = (sum(kept_rest) + sum(kept_cross) - sum(bare_rest) - sum(bare_cross)) / (2 * args.orders)
    row("cost of keeping the day, per order (mean)", f"{extra * 1e6:.0f} us")


if __name__ == "__main__":
    main()
