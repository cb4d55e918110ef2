"""The simulated venue over real FIX 4.4 on loopback: run_venue as a process, quickfix on both ends.

Orders, status requests, market data, position reports and fault injection (set through the real
Redis under this run's bus prefix, as an operator would)."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from conftest import BASE_DIR, engine_database_url
from fixclient import FixSession, group

from orders import bus
from venues.fix.orders import order_mass_cancel_request_message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_venue(tmp_path_factory, name: str, *extra: str, clients: dict[str, bool] | None = None):
    """run_venue as a process; yields {CompID: FixSession}, all logged on. `clients` maps each
    CompID to whether its session resets sequence numbers at logon (default: one "TEST", no).
    It starts --fresh: an earlier run's day of the same venue is not this one's."""
    clients = clients or {"TEST": False}
    port = free_port()
    env = {**os.environ, "DATABASE_URL": engine_database_url(), "PYTHONUNBUFFERED": "1"}
    (BASE_DIR / "var" / "test").mkdir(parents=True, exist_ok=True)
    log = open(BASE_DIR / "var" / "test" / "venue.log", "a")
    venue = subprocess.Popen(
        [sys.executable, "manage.py", "run_venue", "--name", name, "--port", str(port), "--clients", ",".join(clients),
         "--fresh", *extra],
        cwd=BASE_DIR, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    sessions = {
        comp_id: FixSession(comp_id, name, port, tmp_path_factory.mktemp("fix"), reset_on_logon=reset)
        for comp_id, reset in clients.items()
    }
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert venue.poll() is None, "run_venue exited; see var/test/venue.log"
                assert time.monotonic() < deadline, "run_venue did not listen"
                time.sleep(0.1)
        for session in sessions.values():
            session.start()
        yield sessions
    finally:
        for session in sessions.values():
            session.stop()
        venue.terminate()
        venue.wait(timeout=30)


def start_venue(tmp_path_factory, name: str, *extra: str):
    for sessions in run_venue(tmp_path_factory, name, *extra):
        yield sessions["TEST"]


@pytest.fixture(scope="module")
def venue_client(db_ready, tmp_path_factory):
    """A venue with an empty book: every trade is between this test's own orders."""
    yield from start_venue(tmp_path_factory, "XSIM", "--no-liquidity")


@pytest.fixture(scope="module")
def liquid_venue_client(db_ready, tmp_path_factory):
    yield from start_venue(tmp_path_factory, "XLIQ", "--step-ms", "100", "--seed", "3")


@pytest.fixture(scope="module")
def other_liquid_venue_client(db_ready, tmp_path_factory):
    """Another seed, a wider spread, fewer levels, bigger quotes, and a busier noise trader than XLIQ."""
    yield from start_venue(tmp_path_factory, "XLQB", "--step-ms", "100", "--seed", "8", "--spread-ticks", "4",
                           "--levels", "2", "--size-lots", "9", "--trade-probability", "0.5")  # fmt: skip


@pytest.fixture(scope="module")
def positions_venue(db_ready, tmp_path_factory):
    """No built-in liquidity; two sessions, TEST and CPTY, trading with each other."""
    yield from run_venue(tmp_path_factory, "XPOS", "--no-liquidity", clients={"TEST": False, "CPTY": False})


@pytest.fixture(scope="module")
def fault_venue(db_ready, tmp_path_factory):
    """No built-in liquidity; TEST (whose faults the tests set; it resets sequence numbers at logon,
    so it comes back after a fault disconnect) and CPTY (never faulted) trading with each other."""
    yield from run_venue(tmp_path_factory, "XFLT", "--no-liquidity", clients={"TEST": True, "CPTY": False})


def test_a_marketable_order_fills_against_the_built_in_market_maker(liquid_venue_client):
    time.sleep(0.5)  # let the makers quote
    cl = new_id("MKT")
    liquid_venue_client.send("D", order(cl, "1", "5", None, tif="3"))  # market IOC buy 5
    seen = liquid_venue_client.receive_until(lambda m: m.get(11) == cl and m.get(39) in ("2", "C", "4"))
    fills = [m for m in seen if m.get(11) == cl and m.get(150) == "F"]
    assert sum(int(m[32]) for m in fills) == 5
    assert 150 < float(fills[0][31]) < 250  # around the AAPL opening price


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def order(
    cl_ord_id: str, side: str, qty: str, price: str | None, tif: str = "0", symbol: str = "AAPL"
) -> dict[int, str]:
    fields = {11: cl_ord_id, 55: symbol, 54: side, 38: qty, 40: "2" if price else "1", 59: tif}
    if price:
        fields[44] = price
    return fields


def test_a_resting_order_is_acknowledged_new(venue_client):
    cl = new_id("A")
    venue_client.send("D", order(cl, "1", "100", "150.00"))
    ack = venue_client.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (ack[35], ack[150], ack[39], ack[151]) == ("8", "0", "0", "100")


def test_a_cross_fills_both_orders_and_the_rest_cancels(venue_client):
    buy, sell, cancel = new_id("B"), new_id("S"), new_id("C")
    venue_client.send("D", order(buy, "1", "100", "151.00"))
    venue_client.receive_until(lambda m: m.get(11) == buy)
    venue_client.send("D", order(sell, "2", "40", "151.00"))
    seen = venue_client.receive_until(lambda m: m.get(11) == buy and m.get(150) == "F")
    trade = seen[-1]
    assert (trade[32], trade[31], trade[14], trade[151], trade[39]) == ("40", "151", "40", "60", "1")
    venue_client.send("F", {11: cancel, 41: buy, 55: "AAPL", 54: "1", 38: "100"})
    canceled = venue_client.receive_until(lambda m: m.get(11) == cancel)[-1]
    assert (canceled[150], canceled[39], canceled[41]) == ("4", "4", buy)


def test_a_repeated_cl_ord_id_is_rejected_as_duplicate(venue_client):
    cl = new_id("D")
    venue_client.send("D", order(cl, "1", "10", "140.00"))
    venue_client.receive_until(lambda m: m.get(11) == cl)
    venue_client.send("D", order(cl, "1", "10", "140.00"))
    again = venue_client.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (again[150], again[39], again[103]) == ("8", "8", "6")


def test_cancel_of_an_unknown_order_gets_a_cancel_reject(venue_client):
    cl = new_id("X")
    venue_client.send("F", {11: cl, 41: "never-sent", 55: "AAPL", 54: "1", 38: "1"})
    reject = venue_client.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (reject[35], reject[102], reject[434]) == ("9", "1", "1")


def test_status_request_answers_order_status(venue_client):
    cl = new_id("H")
    venue_client.send("D", order(cl, "1", "5", "141.00"))
    venue_client.receive_until(lambda m: m.get(11) == cl)
    venue_client.send("H", {11: cl, 55: "AAPL", 54: "1"})
    status = venue_client.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (status[150], status[39], status[151]) == ("I", "0", "5")


def test_status_of_a_partly_filled_order_shows_its_totals(venue_client):
    buy, sell = new_id("HB"), new_id("HS")
    venue_client.send("D", order(buy, "1", "10", "41.50", symbol="TSLA"))
    venue_client.receive_until(lambda m: m.get(11) == buy)
    venue_client.send("D", order(sell, "2", "4", "41.50", symbol="TSLA"))
    venue_client.receive_until(lambda m: m.get(11) == buy and m.get(150) == "F")
    venue_client.send("H", {11: buy, 55: "TSLA", 54: "1", 790: "REQ-1"})
    status = venue_client.receive_until(lambda m: m.get(11) == buy and m.get(150) == "I")[-1]
    assert (status[39], status[14], status[151], status[6], status[38], status[44]) == (
        "1", "4", "6", "41.5", "10", "41.5")  # fmt: skip
    assert status[37] != "NONE" and status[790] == "REQ-1"


def test_status_request_for_an_unknown_order_is_an_order_status_not_a_rejection(venue_client):
    cl = new_id("UNK")
    venue_client.send("H", {11: cl, 55: "MSFT", 54: "2"})
    status = venue_client.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (status[35], status[150], status[39], status[103]) == ("8", "I", "8", "5")
    assert (status[37], status[11], status[55], status[54], status[58]) == ("NONE", cl, "MSFT", "2", "unknown order")
    assert (status[14], status[151], status[6]) == ("0", "0", "0")


def test_an_unsupported_message_type_gets_a_business_reject(venue_client):
    venue_client.send("AF", {584: new_id("MASS"), 585: "7"})  # OrderMassStatusRequest: not served here
    reject = venue_client.receive_until(lambda m: m.get(35) == "j")[-1]
    assert (reject[372], reject[380]) == ("AF", "3")


# -- order mass cancel ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mass_cancel_venue(db_ready, tmp_path_factory):
    """No built-in liquidity; TEST mass-cancels, CPTY's orders must stay. A venue of its own: a mass
    cancel takes every resting order of the session, other tests' included."""
    yield from run_venue(tmp_path_factory, "XMCX", "--no-liquidity", clients={"TEST": False, "CPTY": False})


def rest_orders(client, *orders: tuple[str, str, str]) -> dict[str, str]:
    """Rest (side, price, symbol) orders; {ClOrdID: the venue's OrderID (37)}."""
    resting = {}
    for side, price, symbol in orders:
        cl = new_id("MCO")
        client.send("D", order(cl, side, "10", price, symbol=symbol))
        ack = client.receive_until(lambda m, cl=cl: m.get(11) == cl)[-1]
        assert ack[150] == "0"
        resting[cl] = ack[37]
    return resting


def test_a_mass_cancel_cancels_every_resting_order_of_the_session_and_counts_them(mass_cancel_venue):
    test, cpty = mass_cancel_venue["TEST"], mass_cancel_venue["CPTY"]
    resting = rest_orders(test, ("1", "100.00", "AAPL"), ("2", "120.00", "AAPL"), ("1", "50.00", "MSFT"))
    [theirs] = rest_orders(cpty, ("1", "99.00", "AAPL"))
    mass = new_id("MC")

    test.send_message(order_mass_cancel_request_message(mass, "all"))

    canceled: dict[str, dict[int, str]] = {}
    answer: dict[int, str] | None = None
    while answer is None or len(canceled) < len(resting):
        message = test.receive()
        if message.get(35) == "r" and message.get(11) == mass:
            answer = message
        elif message.get(35) == "8" and message.get(11) == mass:
            canceled[message[41]] = message
    assert set(canceled) == set(resting)
    for cl, report in canceled.items():
        assert (report[150], report[39], report[37], report[14], report[151], report[6]) == (
            "4", "4", resting[cl], "0", "0", "0")  # fmt: skip
    assert (answer[530], answer[531], answer[533]) == ("7", "7", "3") and 532 not in answer
    assert {a[41]: a[535] for a in group(answer, 534, (41, 535))} == resting
    assert nothing_for(test, {mass}, 0.5) == []  # one report per order, no more

    cpty.send("H", {11: theirs, 55: "AAPL", 54: "1"})
    status = cpty.receive_until(lambda m: m.get(11) == theirs and m.get(150) == "I")[-1]
    assert status[39] == "0"  # another session's order works on


def test_a_mass_cancel_by_security_cancels_that_symbols_orders_only(mass_cancel_venue):
    test = mass_cancel_venue["TEST"]
    aapl, msft = rest_orders(test, ("1", "101.00", "AAPL"), ("1", "51.00", "MSFT"))
    mass = new_id("MC")
    test.send_message(order_mass_cancel_request_message(mass, "security", "MSFT"))
    seen = test.receive_until(lambda m: m.get(11) == mass and m.get(35) == "8")
    answer = next(m for m in seen if m.get(35) == "r")
    assert (answer[530], answer[531], answer[533], seen[-1][41]) == ("1", "1", "1", msft)
    test.send("H", {11: aapl, 55: "AAPL", 54: "1"})
    assert test.receive_until(lambda m: m.get(11) == aapl and m.get(150) == "I")[-1][39] == "0"


def test_an_unsupported_mass_cancel_type_is_rejected_and_cancels_nothing(mass_cancel_venue):
    test = mass_cancel_venue["TEST"]
    [cl] = rest_orders(test, ("1", "102.00", "AAPL"))
    mass = new_id("MC")
    test.send_message(order_mass_cancel_request_message(mass, "product"))  # 530=3: not served
    answer = test.receive_until(lambda m: m.get(35) == "r" and m.get(11) == mass)[-1]
    assert (answer[530], answer[531], answer[532], answer[533]) == ("3", "0", "0", "0")
    assert 534 not in answer and answer[37] != ""
    test.send("H", {11: cl, 55: "AAPL", 54: "1"})
    assert test.receive_until(lambda m: m.get(11) == cl and m.get(150) == "I")[-1][39] == "0"


# -- market data --------------------------------------------------------------------------------------


ENTRY = (269, 270, 271, 272, 273)


def snapshots(client, md_req_id: str, seconds: float) -> list[dict[int, str]]:
    """The snapshots (35=W) for `md_req_id` received within `seconds`; other messages are dropped."""
    found = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = client.receive(left)
        except queue.Empty:
            break
        if message.get(35) == "W" and message.get(262) == md_req_id:
            found.append(message)
    return found


def entries(snapshot) -> dict[str, dict[int, str]]:
    """The snapshot's MDEntries by type: "0" bid, "1" offer, "2" trade."""
    return {entry[269]: entry for entry in group(snapshot, 268, ENTRY)}


def sending_time(message) -> datetime:
    return datetime.strptime(message[52], "%Y%m%d-%H:%M:%S.%f")


def test_market_data_shows_the_makers_top_of_book_and_updates_at_most_every_200ms(liquid_venue_client):
    client = liquid_venue_client
    time.sleep(0.3)  # the makers quote every 100 ms
    md_req_id = new_id("MD")
    client.subscribe_market_data(md_req_id, ["AAPL", "MSFT"])
    seen = snapshots(client, md_req_id, 2.5)
    assert {m[55] for m in seen[:2]} == {"AAPL", "MSFT"}  # one snapshot per symbol at once
    today = datetime.now(UTC).strftime("%Y%m%d")
    for symbol in ("AAPL", "MSFT"):
        mine = [m for m in seen if m[55] == symbol]
        # The book changes every 100 ms: updates keep coming, but no two within 200 ms.
        assert 5 <= len(mine) <= 2.5 / 0.2 + 2, [m[52] for m in mine]
        gaps = [(b - a).total_seconds() for a, b in zip(map(sending_time, mine), map(sending_time, mine[1:]))]
        assert min(gaps) >= 0.15, gaps
        for snapshot in mine:
            book = entries(snapshot)
            bid, offer = book["0"], book["1"]
            # The maker's quotes: two ticks apart (--spread-ticks 2), 5 to 10 lots less what the noise trader took.
            assert Decimal(offer[270]) - Decimal(bid[270]) == Decimal("0.02")
            assert all(4 <= int(side[271]) <= 10 for side in (bid, offer))
            assert bid[272] == today and len(bid[273]) == len("12:00:00.000")
    mids = {(Decimal(entries(m)["0"][270]) + Decimal(entries(m)["1"][270])) / 2 for m in seen if m[55] == "AAPL"}
    assert len(mids) > 1  # the reference moves, and the makers requote around it

    client.unsubscribe_market_data(md_req_id, ["AAPL", "MSFT"])
    snapshots(client, md_req_id, 0.3)  # what was on its way
    assert snapshots(client, md_req_id, 1.0) == []


def test_two_venues_with_other_seeds_and_settings_quote_other_markets(liquid_venue_client, other_liquid_venue_client):
    a, b = new_id("MDA"), new_id("MDB")
    time.sleep(0.3)
    liquid_venue_client.subscribe_market_data(a, ["AAPL"])
    other_liquid_venue_client.subscribe_market_data(b, ["AAPL"])
    seen_a = snapshots(liquid_venue_client, a, 2.0)
    seen_b = snapshots(other_liquid_venue_client, b, 0.1)
    books_a = [entries(m) for m in seen_a if "0" in entries(m)]
    books_b = [entries(m) for m in seen_b if "0" in entries(m)]
    assert books_a and books_b
    spreads_a = {Decimal(e["1"][270]) - Decimal(e["0"][270]) for e in books_a}
    spreads_b = {Decimal(e["1"][270]) - Decimal(e["0"][270]) for e in books_b}
    assert spreads_a == {Decimal("0.02")} and spreads_b == {Decimal("0.04")}
    assert max(int(e[s][271]) for e in books_b for s in "01") > max(int(e[s][271]) for e in books_a for s in "01")
    assert len({e["0"][270] for e in books_b}) > 1  # B's reference moves too
    trades = [e["2"] for e in books_b if "2" in e]  # XLQB's noise trader takes 1 lot half the steps
    assert trades and all(t[271] == "1" and Decimal(t[270]) > 0 for t in trades)
    liquid_venue_client.unsubscribe_market_data(a, ["AAPL"])
    other_liquid_venue_client.unsubscribe_market_data(b, ["AAPL"])


def test_market_data_refuses_unknown_symbols_and_serves_the_others(liquid_venue_client):
    md_req_id = new_id("MDX")
    liquid_venue_client.subscribe_market_data(md_req_id, ["AAPL", "NOPE", "ZZZ"])
    reject = liquid_venue_client.receive_until(lambda m: m.get(262) == md_req_id)[-1]
    assert (reject[35], reject[281], reject[58]) == ("Y", "0", "unknown symbol NOPE, ZZZ")
    served = snapshots(liquid_venue_client, md_req_id, 0.5)
    assert served and {m[55] for m in served} == {"AAPL"}
    liquid_venue_client.unsubscribe_market_data(md_req_id, ["AAPL", "NOPE", "ZZZ"])

    only_unknown = new_id("MDU")
    liquid_venue_client.subscribe_market_data(only_unknown, ["NOPE"])
    reject = liquid_venue_client.receive_until(lambda m: m.get(262) == only_unknown)[-1]
    assert (reject[35], reject[281]) == ("Y", "0")
    assert snapshots(liquid_venue_client, only_unknown, 0.5) == []


def test_a_duplicate_md_req_id_is_refused_with_its_reason(venue_client):
    md_req_id = new_id("MDD")
    venue_client.subscribe_market_data(md_req_id, ["SPY"])
    assert venue_client.receive_until(lambda m: m.get(262) == md_req_id)[-1][35] == "W"
    venue_client.subscribe_market_data(md_req_id, ["SPY"])
    reject = venue_client.receive_until(lambda m: m.get(262) == md_req_id)[-1]
    assert (reject[35], reject[281]) == ("Y", "1")
    venue_client.unsubscribe_market_data(md_req_id, ["SPY"])


def test_market_data_shows_a_trade_only_once_there_is_one(venue_client):
    md_req_id, sell, buy = new_id("MDT"), new_id("S"), new_id("B")
    venue_client.subscribe_market_data(md_req_id, ["AMZN"])
    first = snapshots(venue_client, md_req_id, 0.5)
    assert len(first) == 1 and first[0][268] == "0"  # an empty book, nothing traded
    venue_client.send("D", order(sell, "2", "5", "120.00", symbol="AMZN"))
    offer_only = venue_client.receive_until(lambda m: m.get(262) == md_req_id)[-1]
    assert {k: (e[270], e[271]) for k, e in entries(offer_only).items()} == {"1": ("120", "5")}
    venue_client.send("D", order(buy, "1", "2", "120.00", symbol="AMZN"))
    traded = venue_client.receive_until(lambda m: m.get(262) == md_req_id)[-1]
    assert {k: (e[270], e[271]) for k, e in entries(traded).items()} == {"1": ("120", "3"), "2": ("120", "2")}
    assert (sending_time(traded) - sending_time(offer_only)).total_seconds() >= 0.15
    venue_client.unsubscribe_market_data(md_req_id, ["AMZN"])


# -- positions -------------------------------------------------------------------------------------------


PARTY = ((448, "DESK-EQ"), (447, "D"), (452, "3"))


def cross(resting, aggressor, symbol: str, resting_side: str, qty: str, price: str) -> None:
    """`resting` rests an order, `aggressor` takes it; returns once both have their fill."""
    rest, take = new_id("R"), new_id("T")
    aggressor_side = "1" if resting_side == "2" else "2"
    resting.send("D", order(rest, resting_side, qty, price, symbol=symbol))
    resting.receive_until(lambda m: m.get(11) == rest)
    aggressor.send("D", order(take, aggressor_side, qty, price, symbol=symbol))
    aggressor.receive_until(lambda m: m.get(11) == take and m.get(150) == "F")
    resting.receive_until(lambda m: m.get(11) == rest and m.get(150) == "F")


def test_position_reports_show_each_sessions_net_position_per_symbol(positions_venue):
    test, cpty = positions_venue["TEST"], positions_venue["CPTY"]
    [nothing] = test.request_positions("POS-0", parties=(PARTY,))
    assert (nothing[35], nothing[728], nothing[727], nothing[729], nothing[1], nothing[581]) == (
        "AO", "2", "0", "0", "DESK-EQ", "1")  # fmt: skip

    cross(cpty, test, "AAPL", "2", "30", "100.00")  # TEST buys 30 AAPL
    cross(test, cpty, "MSFT", "2", "10", "50.00")  # TEST sells 10 MSFT
    cross(test, cpty, "NVDA", "1", "5", "10.00")  # TEST buys 5 NVDA...
    cross(cpty, test, "NVDA", "1", "5", "11.00")  # ...and sells them: flat, so no report
    cross(cpty, cpty, "AAPL", "2", "1", "101.00")  # the last AAPL trade: CPTY with itself

    reports = test.request_positions("POS-1", parties=(PARTY,))
    assert [r[55] for r in reports] == ["AAPL", "MSFT"] and len({r[721] for r in reports}) == 2
    today = datetime.now(UTC).strftime("%Y%m%d")
    for report in reports:
        assert (report[35], report[710], report[724], report[727], report[728], report[715]) == (
            "AP", "POS-1", "0", "2", "0", today)  # fmt: skip
        assert (report[1], report[581], report[731], report[734]) == ("DESK-EQ", "1", "1", "0")
        assert group(report, 453, (448, 447, 452)) == [dict(PARTY)]
    aapl, msft = reports
    assert group(aapl, 702, (703, 704, 705)) == [{703: "TQ", 704: "30", 705: "0"}] and aapl[730] == "101"
    assert group(msft, 702, (703, 704, 705)) == [{703: "TQ", 704: "0", 705: "10"}] and msft[730] == "50"

    theirs = cpty.request_positions("POS-2", account="CPTY-1")
    assert [(r[55], r[704], r[705], r[1]) for r in theirs] == [
        ("AAPL", "0", "30", "CPTY-1"),
        ("MSFT", "10", "0", "CPTY-1"),
    ]


def test_a_request_for_trades_instead_of_positions_is_refused(positions_venue):
    [ack] = positions_venue["TEST"].request_positions("POS-T", pos_req_type="1")
    assert (ack[35], ack[728], ack[729]) == ("AO", "4", "2")


# -- fault injection ------------------------------------------------------------------------------------


def faults_key(session: str) -> str:
    return bus.key(f"venue:XFLT:faults:{session}")


def wait_loaded(session: str, key: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while bus.client().get(faults_key(session) + ":loaded") != key:
        assert time.monotonic() < deadline, f"XFLT did not load faults {key!r} for {session}"
        time.sleep(0.05)


def set_faults(session: str = "TEST", **knobs) -> str:
    """Set a session's faults on XFLT, under a new id, and wait until the venue has them."""
    fault_id = new_id("F")
    bus.client().set(faults_key(session), json.dumps({"id": fault_id, **knobs}))
    wait_loaded(session, fault_id)
    return fault_id


@pytest.fixture
def faults(fault_venue):
    """XFLT's TEST and CPTY sessions; no faults before or after the test."""
    yield fault_venue
    bus.client().delete(faults_key("TEST"))
    wait_loaded("TEST", "")
    assert fault_venue["TEST"].app.logged_on


def nothing_for(client, cl_ord_ids: set[str], seconds: float) -> list[dict[int, str]]:
    """Messages about `cl_ord_ids` received within `seconds`."""
    found = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = client.receive(left)
        except queue.Empty:
            break
        if message.get(11) in cl_ord_ids:
            found.append(message)
    return found


def test_fault_drop_exec_reports_drops_the_next_n_then_reports_again(faults):
    test = faults["TEST"]
    set_faults(drop_exec_reports=2)
    first, second, third = new_id("D1"), new_id("D2"), new_id("D3")
    for cl, price in ((first, "90.00"), (second, "90.01"), (third, "90.02")):
        test.send("D", order(cl, "1", "1", price))
    seen = test.receive_until(lambda m: m.get(11) == third)
    assert [m[11] for m in seen if m.get(11) in (first, second, third)] == [third]
    assert nothing_for(test, {first, second}, 0.5) == []
    test.send("H", {11: first, 55: "AAPL", 54: "1"})  # the venue has the order: ask and it says so
    assert test.receive_until(lambda m: m.get(11) == first)[-1][39] == "0"


def test_fault_drop_count_restarts_only_with_a_new_id(faults):
    test = faults["TEST"]
    fault_id = set_faults(drop_exec_reports=1)
    dropped, sent = new_id("D"), new_id("S")
    test.send("D", order(dropped, "1", "1", "80.00"))
    test.send("D", order(sent, "1", "1", "80.01"))
    assert [m[11] for m in test.receive_until(lambda m: m.get(11) == sent) if 11 in m] == [sent]
    # The same settings written again (same id): the count is used up, nothing more is dropped.
    bus.client().set(faults_key("TEST"), json.dumps({"id": fault_id, "drop_exec_reports": 1}))
    time.sleep(0.5)
    again = new_id("A")
    test.send("D", order(again, "1", "1", "80.02"))
    assert test.receive_until(lambda m: m.get(11) == again)[-1][150] == "0"
    set_faults(drop_exec_reports=1)  # a new id: one more is dropped
    lost, kept = new_id("L"), new_id("K")
    test.send("D", order(lost, "1", "1", "80.03"))
    test.send("D", order(kept, "1", "1", "80.04"))
    assert [m[11] for m in test.receive_until(lambda m: m.get(11) == kept) if 11 in m] == [kept]


def test_fault_delay_holds_a_sessions_reports_in_order_without_holding_up_the_venue(faults):
    test, cpty = faults["TEST"], faults["CPTY"]
    set_faults(delay_ms=800)
    mine = [new_id(f"L{i}") for i in range(3)]
    sent_at = time.monotonic()
    for i, cl in enumerate(mine):
        test.send("D", order(cl, "1", "1", f"70.0{i}"))
    theirs = new_id("C")
    cpty.send("D", order(theirs, "1", "1", "70.10"))
    assert cpty.receive_until(lambda m: m.get(11) == theirs)[-1][150] == "0"
    assert time.monotonic() - sent_at < 0.5  # CPTY's ack did not wait behind TEST's delay
    seen = test.receive_until(lambda m: m.get(11) == mine[-1], timeout=5)
    assert time.monotonic() - sent_at >= 0.8
    assert [m[11] for m in seen if m.get(11) in mine] == mine  # in the order they happened


def test_fault_duplicate_exec_reports_sends_each_twice_with_the_same_exec_id(faults):
    test = faults["TEST"]
    set_faults(duplicate_exec_reports=True)
    cl = new_id("DUP")
    test.send("D", order(cl, "1", "1", "60.00"))
    first = test.receive_until(lambda m: m.get(11) == cl)[-1]
    second = test.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (first[150], first[17]) == (second[150], second[17]) == ("0", first[17])
    assert first[34] != second[34]  # two messages on the wire, not one seen twice


def test_fault_reject_all_rejects_orders_cancels_and_replaces(faults):
    test = faults["TEST"]
    live = new_id("LIVE")
    test.send("D", order(live, "1", "5", "50.00"))
    test.receive_until(lambda m: m.get(11) == live)
    set_faults(reject_all=True)
    cl, cancel, replace = new_id("RJ"), new_id("RC"), new_id("RR")
    test.send("D", order(cl, "1", "1", "50.00"))
    rejected = test.receive_until(lambda m: m.get(11) == cl)[-1]
    assert (rejected[150], rejected[39], rejected[58]) == ("8", "8", "rejected by fault injection")
    test.send("F", {11: cancel, 41: live, 55: "AAPL", 54: "1", 38: "5"})
    refused = test.receive_until(lambda m: m.get(11) == cancel)[-1]
    assert (refused[35], refused[434], refused[39], refused[58]) == ("9", "1", "0", "rejected by fault injection")
    test.send("G", {11: replace, 41: live, 55: "AAPL", 54: "1", 38: "6", 40: "2", 44: "50.00"})
    refused = test.receive_until(lambda m: m.get(11) == replace)[-1]
    assert (refused[35], refused[434]) == ("9", "2")
    bus.client().delete(faults_key("TEST"))
    wait_loaded("TEST", "")
    cancel_again = new_id("CA")
    test.send("F", {11: cancel_again, 41: live, 55: "AAPL", 54: "1", 38: "5"})
    assert test.receive_until(lambda m: m.get(11) == cancel_again)[-1][150] == "4"


def test_fault_disconnect_logs_the_session_out_once_and_it_logs_on_again(faults):
    test = faults["TEST"]
    logons = test.app.logons
    set_faults(disconnect=True)
    deadline = time.monotonic() + 15
    while test.app.logons == logons or not test.app.logged_on:
        assert time.monotonic() < deadline, "TEST was not logged out and on again"
        time.sleep(0.05)
    assert test.app.logouts >= 1
    time.sleep(1.5)  # the same id again and again: no second disconnect
    assert test.app.logged_on and test.app.logons == logons + 1
    cl = new_id("BACK")  # sequence numbers started again at 1 on both sides: the session works
    test.send("D", order(cl, "1", "1", "40.00"))
    assert test.receive_until(lambda m: m.get(11) == cl)[-1][150] == "0"


def test_fault_fill_after_cancel_fills_the_canceled_remainder_and_the_position_shows_it(faults):
    test, cpty = faults["TEST"], faults["CPTY"]
    buy, sell, cancel = new_id("B"), new_id("S"), new_id("C")
    test.send("D", order(buy, "1", "10", "30.00", symbol="NVDA"))
    test.receive_until(lambda m: m.get(11) == buy)
    cpty.send("D", order(sell, "2", "4", "30.00", symbol="NVDA"))
    test.receive_until(lambda m: m.get(11) == buy and m.get(150) == "F")
    set_faults(fill_after_cancel=True)
    test.send("F", {11: cancel, 41: buy, 55: "NVDA", 54: "1", 38: "10"})
    canceled, late = test.receive_until(lambda m: m.get(11) == cancel and m.get(150) == "F")[-2:]
    assert (canceled[150], canceled[39], canceled[14], canceled[41]) == ("4", "4", "4", buy)
    assert (late[150], late[39], late[32], late[31], late[14], late[151], late[6]) == (
        "F", "2", "6", "30", "10", "0", "30")  # fmt: skip
    assert late[17] != canceled[17]
    test.send("H", {11: cancel, 55: "NVDA", 54: "1"})
    status = test.receive_until(lambda m: m.get(11) == cancel and m.get(150) == "I")[-1]
    assert (status[39], status[14]) == ("2", "10")
    nvda = [r for r in test.request_positions(new_id("POS")) if r.get(55) == "NVDA"]
    assert [(r[704], r[705]) for r in nvda] == [("10", "0")]


def test_a_malformed_order_gets_a_session_reject_and_the_venue_goes_on(venue_client):
    cl = new_id("M")
    venue_client.send("D", {11: cl, 55: "AAPL", 54: "1", 40: "2", 44: "150.00"})  # no 38 OrderQty
    reject = venue_client.receive_until(lambda m: m.get(35) in ("3", "8") and m.get(11, cl) == cl)[-1]
    assert reject[35] in ("3", "8")
    ok = new_id("OK")
    venue_client.send("D", order(ok, "1", "1", "150.00"))
    assert venue_client.receive_until(lambda m: m.get(11) == ok)[-1][150] == "0"
