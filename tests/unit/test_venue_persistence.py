"""The simulated venue's day store (venues/simulator/persistence.py), on real SQLite files: a venue
rebuilt from the store equals the live one in its sessions' orders, books, positions, ClOrdIDs
and id counters, whatever it did; a new day carries only open GTC orders; a store that cannot be
read gives an empty venue, never an error; and the acceptor commits before a report leaves."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
import quickfix as fix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.domain.values import ExecType, OrdStatus
from venues.fix.messages import getter
from venues.fix.orders import execution_report_message, parse_execution_report
from venues.simulator.book import BookOrder, OrderBook, Side, TimeInForce
from venues.simulator.fix_app import VenueApplication, _execution_report
from venues.simulator.persistence import DayStore, fields_of, order_of, trading_day
from venues.simulator.venue import ExecReport, InstrumentSpec, Venue

D = Decimal
DAY = date(2026, 3, 2)
KEPT = ("A", "B")  # FIX sessions; "mm" is a built-in participant, never kept
SYMBOLS = ("AAPL", "MSFT")


def new_venue() -> Venue:
    return Venue("XSIM", [InstrumentSpec(s, D("0.01"), D(1)) for s in SYMBOLS])


def keeps(owner: str) -> bool:
    return owner in KEPT


@pytest.fixture
def path() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp) / "day.sqlite3"


def opened(path: Path, day: date = DAY, **options) -> tuple[Venue, DayStore]:
    venue = new_venue()
    store, _ = DayStore.open(path, venue, day, keeps, **options)
    return venue, store


def day_of(venue: Venue, owners=KEPT) -> dict:
    """What a restart must keep of `owners`' day, comparable with ==."""
    return {
        "orders": {o.order_id: (dataclasses.asdict(o), s) for o, s in venue.orders() if o.owner in owners},
        "books": {s: [o.order_id for o in book.resting() if o.owner in owners] for s, book in venue.books.items()},
        "positions": {(owner, symbol): qty for owner in owners for symbol, qty in venue.positions_of(owner).items()},
        "account_positions": {
            (owner, account, symbol): qty
            for (owner, account), held in venue.account_positions.items()
            if owner in owners
            for symbol, qty in held.items()
            if qty
        },
        "cl_ord_ids": {k: v for k, v in venue.cl_ord_ids().items() if k[0] in owners},
    }


def number(venue_id: str) -> int:
    """12 of "XSIM-E12", "XSIM-12", "XSIM-R12", "XSIM-M12"; 0 of "0" and "NONE" (no id)."""
    digits = venue_id.rsplit("-", 1)[-1].lstrip("ERM")
    return int(digits) if digits.isdigit() else 0


# -- random venue operations ------------------------------------------------------------------------

owners = st.sampled_from(("A", "B", "mm"))
prices = st.sampled_from([None, *(D("10.00") + D("0.01") * i for i in range(-3, 4))])
accounts = st.sampled_from(("", "DESK-EQ", "DESK-FI"))  # 1 Account on the order, or none
new_orders = st.tuples(st.just("new"), owners, st.sampled_from(SYMBOLS), st.sampled_from(list(Side)),
                       st.integers(1, 20), prices, st.sampled_from(list(TimeInForce)), accounts)  # fmt: skip
requests = st.tuples(st.sampled_from(("cancel", "replace", "status", "fill_after_cancel")), owners,
                     st.integers(0, 30), st.integers(1, 30), prices)  # fmt: skip
others = st.tuples(st.sampled_from(("mass_cancel", "bust", "duplicate", "unreported_fill")), owners,
                  st.sampled_from((None, *SYMBOLS)), accounts)  # fmt: skip
operations = st.lists(st.one_of(new_orders, new_orders, requests, others), max_size=40)


class Driver:
    """Applies generated operations to a venue, with the ClOrdIDs and fills they refer back to."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.sent: dict[str, list[str]] = {"A": [], "B": [], "mm": []}  # ClOrdIDs each owner used
        self.fills: list[ExecReport] = []
        self.count = 0
        self.told = (0, 0)  # the highest OrderID and ExecID numbers a kept owner was told

    def cl_ord_id(self, owner: str) -> str:
        self.count += 1
        cl_ord_id = f"{owner}-{self.count}"
        self.sent[owner].append(cl_ord_id)
        return cl_ord_id

    def apply(self, op) -> list:
        venue, kind, owner = self.venue, op[0], op[1]
        if kind == "new":
            _, _, symbol, side, qty, price, tif, account = op
            if price is None and tif in (TimeInForce.DAY, TimeInForce.GTC):
                tif = TimeInForce.IOC
            reports = venue.new_order(owner, self.cl_ord_id(owner), symbol, side, D(qty), price, tif, account=account)
        elif kind == "mass_cancel":
            outcome = venue.mass_cancel(owner, self.cl_ord_id(owner), op[2])
            reports = outcome.canceled
            if keeps(owner):
                self.told = (max(self.told[0], number(outcome.mass_id)), self.told[1])
        elif kind == "bust":  # the latest fill that completed an order (the only kind a venue busts)
            done = [f for f in self.fills if f.ord_status is OrdStatus.FILLED]
            reports = venue.bust(done[-1]) if done else []
        elif kind == "unreported_fill":  # the fault: a position change with no report
            venue.book_unreported_fill(owner, op[3], op[2] or "AAPL", D(3))
            reports = []
        elif kind == "duplicate":
            used = self.sent[owner]
            reports = (
                venue.new_order(owner, used[-1], "AAPL", Side.BUY, D(1), D("9.00"), TimeInForce.DAY) if used else []
            )
        else:
            _, _, which, qty, price = op
            used = self.sent[owner]
            if not used:
                return []
            orig = used[which % len(used)]
            if kind == "cancel":
                reports = venue.cancel(owner, self.cl_ord_id(owner), orig)
            elif kind == "replace":
                reports = venue.replace(owner, self.cl_ord_id(owner), orig, D(qty), price)
            elif kind == "status":
                reports = [status] if (status := venue.status(owner, orig)) else []
            else:
                reports = venue.fill_after_cancel(owner, orig)
        self.fills += [r for r in reports if isinstance(r, ExecReport) and r.exec_type is ExecType.TRADE]
        for r in reports:
            if keeps(r.owner):
                self.told = (max(self.told[0], number(r.order_id)),
                             max(self.told[1], number(r.exec_id) if isinstance(r, ExecReport) else 0))  # fmt: skip
        return reports


def run(venue: Venue, store: DayStore, ops) -> Driver:
    """Each operation, then the store's commit, as the acceptor commits before its reports leave."""
    driver = Driver(venue)
    for op in ops:
        driver.apply(op)
        store.record()
    return driver


# -- the properties -----------------------------------------------------------------------------------

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(ops=operations)
def test_a_venue_rebuilt_from_its_store_equals_the_live_one(ops):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.sqlite3"
        live, store = opened(path)
        driver = run(live, store, ops)
        restarted, again = opened(path)
        assert day_of(restarted) == day_of(live)
        # Ids go on past every one a session was told (those only the built-in participants saw may come again).
        assert all(new > told for new, told in zip(restarted.next_ids, driver.told, strict=True))
        store.close()
        again.close()


@SETTINGS
@given(before=operations, after=operations)
def test_a_restored_venue_goes_on_as_the_live_one_would(before, after):
    """Without built-in participants everything is kept: the same requests after the restart get
    the same reports, ExecIDs and OrderIDs included (so none is ever handed out twice)."""
    no_makers = [op for op in before if op[1] != "mm"], [op for op in after if op[1] != "mm"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.sqlite3"
        live, store = opened(path)
        driver = run(live, store, no_makers[0])
        restarted, again = opened(path)
        twin = Driver(restarted)
        twin.sent, twin.fills, twin.count = (
            {k: list(v) for k, v in driver.sent.items()},
            list(driver.fills),
            driver.count,
        )
        assert restarted.next_ids == live.next_ids
        for op in no_makers[1]:
            assert twin.apply(op) == driver.apply(op)
        store.close()
        again.close()


@SETTINGS
@given(ops=operations)
def test_a_new_day_carries_open_gtc_orders_only_and_ids_go_on(ops):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.sqlite3"
        live, store = opened(path)
        driver = run(live, store, ops)
        tomorrow, again = opened(path, date(2026, 3, 3))
        carried = {o.order_id for o, _ in live.orders() if o.owner in KEPT and o.open and o.time_in_force == "gtc"}
        day = day_of(tomorrow)
        assert set(day["orders"]) == carried
        assert day["positions"] == {}
        assert set(day["cl_ord_ids"].values()) <= carried
        assert day["books"] == {s: [i for i in ids if i in carried] for s, ids in day_of(live)["books"].items()}
        assert all(new > told for new, told in zip(tomorrow.next_ids, driver.told, strict=True))
        # ... and the day after that, restarted again, is the new day as it was written.
        assert day_of(opened(path, date(2026, 3, 3))[0]) == day
        store.close()
        again.close()


@SETTINGS
@given(ops=operations, later=operations)
def test_a_day_change_while_running_matches_a_restart_on_the_new_day(ops, later):
    """DayStore.start_day (the close, while the venue runs) leaves the venue and the store as a
    restart on the new day would, and the new day's changes are kept as any day's."""
    with tempfile.TemporaryDirectory() as tmp:
        running, restarted = Path(tmp) / "running.sqlite3", Path(tmp) / "restarted.sqlite3"
        live, store = opened(running)
        twin, twin_store = opened(restarted)
        run(live, store, ops)
        run(twin, twin_store, ops)
        store.start_day(date(2026, 3, 3))
        tomorrow, _ = opened(restarted, date(2026, 3, 3))
        assert day_of(live) == day_of(tomorrow) and live.positions_of("A") == {}
        run(live, store, later)
        assert day_of(opened(running, date(2026, 3, 3))[0]) == day_of(live)


# -- cases --------------------------------------------------------------------------------------------------


def test_a_restored_resting_order_fills_with_its_totals_and_new_exec_ids(path):
    live, store = opened(path)
    ids = {r.exec_id for r in live.new_order("A", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)}
    ids |= {r.exec_id for r in live.new_order("B", "s1", "AAPL", Side.SELL, D(4), D("10.00"), TimeInForce.DAY)}
    store.record()
    venue, _ = opened(path)
    assert venue.positions_of("A") == {"AAPL": D(4)} and venue.positions_of("B") == {"AAPL": D(-4)}
    status = venue.status("A", "c1")
    assert (status.cum_qty, status.leaves_qty, status.avg_px, status.ord_status.value) == (
        D(4), D(6), D(10), "partially_filled")  # fmt: skip
    reports = venue.new_order("B", "s2", "AAPL", Side.SELL, D(6), D("9.99"), TimeInForce.DAY)
    fill = next(r for r in reports if r.owner == "A")
    assert (fill.last_qty, fill.last_px, fill.cum_qty, fill.leaves_qty, fill.ord_status.value) == (
        D(6), D("10.00"), D(10), D(0), "filled")  # fmt: skip
    assert not ids & {r.exec_id for r in reports}
    assert venue.new_order("A", "c1", "AAPL", Side.BUY, D(1), D(1), TimeInForce.DAY)[0].reject_reason == (
        "duplicate_cl_ord_id")  # fmt: skip


def test_restored_orders_keep_their_time_priority_behind_older_ones(path):
    live, store = opened(path)
    for owner, cl_ord_id in (("A", "first"), ("B", "second"), ("A", "third")):
        live.new_order(owner, cl_ord_id, "MSFT", Side.SELL, D(5), D("20.00"), TimeInForce.GTC)
    live.replace("A", "first-r", "first", D(8), D("20.00"))  # grew: to the back of the queue
    store.record()
    venue, _ = opened(path)
    reports = venue.new_order("A", "buy", "MSFT", Side.BUY, D(5), D("20.00"), TimeInForce.DAY)
    assert [r.cl_ord_id for r in reports if r.owner == "B"] == ["second"]
    assert (
        venue.new_order("B", "late", "MSFT", Side.SELL, D(1), D("20.00"), TimeInForce.DAY)[0].exec_type.value == "new"
    )
    queue = [o.cl_ord_id for o in venue.books["MSFT"].resting()]
    assert queue == ["third", "first-r", "late"]


def test_the_book_puts_restored_orders_in_time_priority_whatever_order_they_come_in():
    book = OrderBook("AAPL")
    for priority in (5, 2, 9, 7):
        book.restore(BookOrder(f"o{priority}", "A", f"c{priority}", Side.BUY, D(1), D("10.00"), priority=priority))
    assert [o.order_id for o in book.resting()] == ["o2", "o5", "o7", "o9"]
    book.submit(new := BookOrder("new", "A", "n", Side.BUY, D(1), D("10.00")))
    assert new.priority == 10 and [o.order_id for o in book.resting()][-1] == "new"


def test_a_cancel_replace_of_a_restored_order_finds_it_by_its_latest_and_first_cl_ord_id(path):
    live, store = opened(path)
    live.new_order("A", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    live.replace("A", "c2", "c1", D(12), D("10.01"))
    store.record()
    venue, _ = opened(path)
    assert venue.status("A", "c1").cl_ord_id == "c2"
    [replaced] = venue.replace("A", "c3", "c2", D(15), D("10.02"))
    assert (replaced.exec_type.value, replaced.order_qty, replaced.price) == ("replaced", D(15), D("10.02"))
    [canceled] = venue.cancel("A", "c4", "c3")
    assert canceled.exec_type.value == "canceled" and venue.books["AAPL"].best_bid() is None


def test_a_bust_and_a_fill_after_cancel_are_kept_in_the_orders_and_positions(path):
    live, store = opened(path)
    live.new_order("A", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    fill = next(r for r in live.new_order("B", "s1", "AAPL", Side.SELL, D(10), D("10.00"), TimeInForce.DAY)
                if r.owner == "A")  # fmt: skip
    store.record()
    live.bust(fill)
    live.new_order("A", "c2", "MSFT", Side.BUY, D(10), D("20.00"), TimeInForce.DAY)
    live.cancel("A", "c3", "c2")
    live.fill_after_cancel("A", "c3")
    store.record()
    venue, _ = opened(path)
    assert day_of(venue) == day_of(live)
    assert venue.positions_of("A") == {"MSFT": D(10)} and venue.status("A", "c1").cum_qty == 0


def test_built_in_participants_orders_are_not_kept(path):
    live, store = opened(path)
    live.new_order("mm", "q1", "AAPL", Side.SELL, D(50), D("10.05"), TimeInForce.DAY)
    live.new_order("A", "c1", "AAPL", Side.BUY, D(10), D("10.05"), TimeInForce.DAY)
    store.record()
    venue, _ = opened(path)
    assert venue.books["AAPL"].best_ask() is None and venue.positions_of("mm") == {}
    assert venue.positions_of("A") == {"AAPL": D(10)}


def test_only_what_changed_is_written(path):
    live, store = opened(path)
    for i in range(50):
        live.new_order("A", f"c{i}", "AAPL", Side.BUY, D(1), D("9.00") + D("0.01") * i, TimeInForce.DAY)
    store.record()
    written = []
    store._db.set_trace_callback(written.append)
    live.cancel("A", "x", "c7")
    store.record()
    assert sum(1 for sql in written if sql.startswith("INSERT OR REPLACE INTO orders")) == 1
    assert not any(sql.startswith(("DELETE", "INSERT INTO")) for sql in written)


def test_nothing_changed_writes_nothing(path):
    _, store = opened(path)
    written = []
    store._db.set_trace_callback(written.append)
    assert store.record() == []
    assert written == []


def test_a_kept_report_is_pending_until_sent(path):
    _, store = opened(path)
    [first], [second] = store.record([("A", "8=FIX.4.4|first")]), store.record([("B", "8=FIX.4.4|second")])
    assert [(owner, text) for _, owner, text in store.pending()] == [
        ("A", "8=FIX.4.4|first"),
        ("B", "8=FIX.4.4|second"),
    ]
    store.sent(first)
    assert store.pending() == [(second, "B", "8=FIX.4.4|second")]
    assert len(opened(path)[1].pending()) == 2  # the delete waits for the next commit (a kill now: sent twice)
    store.record()
    assert opened(path)[1].pending() == [(second, "B", "8=FIX.4.4|second")]
    store.sent(second)
    store.close()
    assert opened(path)[1].pending() == []


def test_fresh_forgets_the_day(path):
    live, store = opened(path)
    live.new_order("A", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.GTC)
    store.record([("A", "report")])
    store.close()
    venue = new_venue()
    _, restored = DayStore.open(path, venue, DAY, keeps, fresh=True)
    assert venue.orders() == [] and venue.next_ids == (1, 1) and restored.stored_day is None


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(b"not a database at all " * 100), id="garbage"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:200]), id="truncated"),
        pytest.param(lambda p: _sql(p, "UPDATE meta SET value = '99' WHERE key = 'schema'"), id="other-schema"),
        pytest.param(lambda p: _sql(p, "UPDATE meta SET value = 'XOTHER' WHERE key = 'venue'"), id="other-venue"),
        pytest.param(lambda p: _sql(p, 'UPDATE orders SET fields = \'{"quantity": "x"}\''), id="bad-order-row"),
        pytest.param(lambda p: _sql(p, "UPDATE meta SET value = 'someday' WHERE key = 'trading_day'"), id="bad-day"),
    ],
)
def test_a_store_that_cannot_be_read_is_set_aside_and_the_venue_starts_empty(path, damage, caplog):
    live, store = opened(path)
    live.new_order("A", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    store.record()
    store.close()
    _checkpoint(path)
    damage(path)
    with caplog.at_level(logging.ERROR, "oms.simulator"):
        venue, again = opened(path)
    assert venue.orders() == [] and "cannot be read" in caplog.text and "moved aside" in caplog.text
    assert list(path.parent.glob("day.sqlite3.unreadable-*"))
    venue.new_order("A", "c2", "AAPL", Side.BUY, D(1), D("10.00"), TimeInForce.DAY)
    again.record()
    assert len(opened(path)[0].orders()) == 1  # and the new store works


def _sql(path: Path, statement: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(statement)


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the main file, so damage to it is damage to the store."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_an_order_row_keeps_every_field():
    venue = new_venue()
    venue.new_order("A", "c1", "AAPL", Side.SELL, D(10), D("10.25"), TimeInForce.GTC)
    order, _ = venue.orders()[0]
    assert order_of(fields_of(order)) == order


@pytest.mark.parametrize(
    ("at", "day_start", "day"),
    [
        (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), time(0), date(2026, 3, 2)),
        (datetime(2026, 3, 2, 23, 59, tzinfo=UTC), time(0), date(2026, 3, 2)),
        (datetime(2026, 3, 2, 21, 59, tzinfo=UTC), time(22), date(2026, 3, 1)),
        (datetime(2026, 3, 2, 22, 0, tzinfo=UTC), time(22), date(2026, 3, 2)),
    ],
)
def test_the_trading_day_begins_when_the_fix_sessions_reset(at, day_start, day):
    assert trading_day(at, day_start) == day


# -- the acceptor: durable before report ----------------------------------------------------------------------


class CheckingOutbox:
    """A session's outbox that, as each message arrives, reads the store from another connection
    (what a restart would find) and marks the message sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: list[tuple[str, list[tuple[str, str]], int]] = []
        self.messages: list[fix.Message] = []

    def put(self, message: fix.Message, not_before: float, sent=None) -> None:
        with sqlite3.connect(self.path) as db:
            orders = db.execute("SELECT order_id, fields FROM orders ORDER BY order_id").fetchall()
            pending = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        self.seen.append((message.getField(150) if message.isSetField(150) else "", orders, pending))
        self.messages.append(message)
        if sent is not None:
            sent()


def new_order_message(cl_ord_id: str, side: str, tif: str = "0") -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, "D")
    for tag, value in ((11, cl_ord_id), (55, "AAPL"), (54, side), (38, "10"), (40, "2"), (44, "10.00"), (59, tif),
                       (60, "20260302-12:00:00")):  # fmt: skip
        message.setField(tag, value)
    return message


def test_the_acceptor_commits_the_order_and_the_report_before_the_report_leaves(path):
    venue, store = opened(path)
    app = VenueApplication(venue, journal=store)
    outbox = app.outboxes["A"] = CheckingOutbox(path)  # type: ignore[assignment]
    app.fromApp(new_order_message("c1", "1", tif="1"), fix.SessionID("FIX.4.4", "XSIM", "A"))
    [(exec_type, orders, pending)] = outbox.seen
    assert exec_type == "0" and pending == 1
    [(_, fields)] = orders
    assert order_of(fields).cl_ord_id == "c1" and order_of(fields).time_in_force is TimeInForce.GTC
    assert store.pending() == []  # sent: gone from the store


def test_every_report_of_a_trade_is_committed_with_it_before_the_first_leaves(path):
    """Both sessions' reports in one commit with the fill: a kill between two commits would keep a
    fill whose report to the other side was never kept."""
    venue, store = opened(path)
    app = VenueApplication(venue, journal=store)
    outboxes = {owner: CheckingOutbox(path) for owner in ("A", "B")}
    app.outboxes.update(outboxes)  # type: ignore[arg-type]
    app.fromApp(new_order_message("a1", "1"), fix.SessionID("FIX.4.4", "XSIM", "A"))
    outboxes["A"].seen.clear()
    app.outboxes["A"].put = lambda *args: outboxes["A"].seen.append(("held", [], 0))  # type: ignore[method-assign]
    app.fromApp(new_order_message("b1", "2"), fix.SessionID("FIX.4.4", "XSIM", "B"))
    first_put = outboxes["B"].seen[0]
    assert first_put[0] == "0" and first_put[2] == 3  # B's ack and fill, A's fill: all kept already
    assert [order_of(fields).cum_qty for _, fields in first_put[1]] == [10, 10]
    assert len(store.pending()) == 1  # A's fill, not handed to quickfix


def test_requeue_hands_kept_reports_to_their_outboxes_in_order(path):
    venue, store = opened(path)
    venue.new_order("A", "c1", "AAPL", Side.BUY, D(10), D("10.00"), TimeInForce.DAY)
    report = venue.status("A", "c1")
    texts = [execution_report_message(_execution_report(dataclasses.replace(report, exec_id=f"E{i}"))).toString()
             for i in range(3)]  # fmt: skip
    store.record([("A", text) for text in texts])
    restarted, again = opened(path)
    app = VenueApplication(restarted, journal=again)
    outbox = app.outboxes["A"] = CheckingOutbox(path)  # type: ignore[assignment]
    assert app.requeue(again.pending()) == 3
    assert [parse_execution_report(getter(m)).exec_id for m in outbox.messages] == ["E0", "E1", "E2"]
    assert again.pending() == []


def test_the_close_keeps_each_expired_day_order_before_its_report_leaves(path):
    venue, store = opened(path)
    app = VenueApplication(venue, journal=store)
    outbox = app.outboxes["A"] = CheckingOutbox(path)  # type: ignore[assignment]
    app.sessions["A"] = fix.SessionID("FIX.4.4", "XSIM", "A")
    app.fromApp(new_order_message("day", "1"), app.sessions["A"])
    app.fromApp(new_order_message("gtc", "1", tif="1"), app.sessions["A"])
    app.close(DAY)
    expired, orders, pending = outbox.seen[-1]
    assert expired == "C" and pending == 1
    assert {order_of(fields).cl_ord_id: order_of(fields).open for _, fields in orders} == {"day": False, "gtc": True}
    restarted, _ = opened(path)
    assert restarted.status("A", "day").ord_status is OrdStatus.EXPIRED
    assert [o.cl_ord_id for o in restarted.books["AAPL"].resting()] == ["gtc"]
