"""A simulated venue keeps its trading day across a kill -9 (venues/simulator/persistence.py):
run_venue as a process, two FIX sessions over real quickfix on loopback (OMS, the one whose day
is checked, and a counterparty CPTY), killed with SIGKILL and started again on the same port.
The trading day is set with --trading-day, so a day change needs no clock."""

from __future__ import annotations

import itertools
import queue
import signal
import threading
import time
import uuid
from decimal import Decimal

import pytest
from fixclient import FixSession, group
from venue_stack import COUNTERPARTY, LOG_DIR, Simulator, inject

from orders import bus

MONDAY, TUESDAY = "2026-03-02", "2026-03-03"
ACCOUNTS = {"OMS": "DESK-EQ", COUNTERPARTY: "CPTY-1"}
NAMES = itertools.count(1)


class DayVenue:
    """One venue and its two sessions; restartable, killable, and on a day of the test's choosing."""

    def __init__(self, name: str, tmp_path_factory) -> None:
        self.simulator = Simulator(name, "--no-liquidity", "--trading-day", MONDAY)
        self.simulator.start()  # --fresh: not an earlier run's day
        self.sessions = {comp_id: FixSession(comp_id, name, self.simulator.port, tmp_path_factory.mktemp("fix"))
                         for comp_id in ACCOUNTS}  # fmt: skip
        for session in self.sessions.values():
            session.start()
        self.exec_ids: set[str] = set()  # every ExecID either session was ever sent, busts aside

    @property
    def oms(self) -> FixSession:
        return self.sessions["OMS"]

    @property
    def cpty(self) -> FixSession:
        return self.sessions[COUNTERPARTY]

    def restart(self, *, kill: bool = True, day: str = MONDAY) -> str:
        """Kill -9 (or stop) the venue, start it again on `day`, wait for both sessions to log on
        again; what the venue logged about its day at this start."""
        logons = {comp_id: session.app.logons for comp_id, session in self.sessions.items()}
        if kill:
            self.simulator.kill()
        else:
            self.simulator.stop(signal.SIGTERM)
        self.simulator.extra = ("--no-liquidity", "--trading-day", day)
        self.simulator.start()
        deadline = time.monotonic() + 30
        for comp_id, session in self.sessions.items():
            while not (session.app.logged_on and session.app.logons > logons[comp_id]):
                assert time.monotonic() < deadline, f"{comp_id} did not log on again"
                time.sleep(0.05)
        lines = (LOG_DIR / f"sim-{self.simulator.name}.log").read_text().splitlines()
        return next(
            line for line in reversed(lines) if f"venue {self.simulator.name}: " in line and "trading day" in line
        )

    def send(self, session: FixSession, cl_ord_id: str, side: str, qty: str, price: str, symbol: str = "AAPL",
             tif: str = "0") -> None:  # fmt: skip
        session.send("D", {11: cl_ord_id, 1: ACCOUNTS[session.app.session_id.getSenderCompID().getValue()],
                           55: symbol, 54: side, 38: qty, 40: "2", 44: price, 59: tif})  # fmt: skip

    def until(self, session: FixSession, predicate) -> list[dict[int, str]]:
        seen = session.receive_until(predicate)
        self.exec_ids |= {m[17] for m in seen if m.get(35) == "8" and m.get(150) != "I"}
        return seen

    def status(self, cl_ord_id: str, symbol: str = "AAPL") -> dict[int, str]:
        self.oms.send("H", {11: cl_ord_id, 55: symbol, 54: "1"})
        return self.oms.receive_until(lambda m: m.get(11) == cl_ord_id and m.get(150) == "I")[-1]

    def positions(self, comp_id: str = "OMS") -> dict[str, Decimal]:
        """The session's net position per symbol, as the venue's position reports (35=AP) give it.
        Asked again if no answer comes: right after a restart both sides may be filling gaps, and a
        position answer that falls in a resent range is gap-filled, not resent (fix_app.RESENT_TYPES)."""
        for attempt in range(3):
            try:
                reports = self.sessions[comp_id].request_positions(new_id("POS"), account=ACCOUNTS[comp_id], timeout=5)
                break
            except queue.Empty:
                assert attempt < 2, f"no position answer for {comp_id}"
        net = {}
        for report in reports:
            if report[35] == "AP":
                [quantity] = group(report, 702, (703, 704, 705))
                net[report[55]] = Decimal(quantity[704]) - Decimal(quantity[705])
        return net

    def close(self) -> None:
        for session in self.sessions.values():
            session.stop()
        self.simulator.stop()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def day_venue(db_ready, tmp_path_factory):
    venue = DayVenue(f"XDAY{next(NAMES)}", tmp_path_factory)
    yield venue
    venue.close()


def test_a_venue_killed_mid_day_comes_back_with_its_orders_positions_and_exec_ids(day_venue):
    venue = day_venue
    resting, partial, sold, sold_again = new_id("REST"), new_id("PART"), new_id("S1"), new_id("S2")
    venue.send(venue.oms, resting, "1", "10", "30.00")
    venue.until(venue.oms, lambda m: m.get(11) == resting)
    venue.send(venue.oms, partial, "1", "10", "40.00", symbol="MSFT")
    venue.until(venue.oms, lambda m: m.get(11) == partial)
    venue.send(venue.cpty, sold, "2", "4", "40.00", symbol="MSFT")
    venue.until(venue.oms, lambda m: m.get(11) == partial and m.get(150) == "F")
    venue.until(venue.cpty, lambda m: m.get(11) == sold and m.get(150) == "F")
    assert venue.positions() == {"MSFT": 4} and venue.positions(COUNTERPARTY) == {"MSFT": -4}
    told = set(venue.exec_ids)

    said = venue.restart(kill=True)

    assert "restored 2 resting orders" in said and "2 positions" in said, said
    assert venue.positions() == {"MSFT": 4} and venue.positions(COUNTERPARTY) == {"MSFT": -4}
    rest = venue.status(resting)
    assert (rest[39], rest[14], rest[151], rest[38], rest[44]) == ("0", "0", "10", "10", "30")
    part = venue.status(partial, "MSFT")
    assert (part[39], part[14], part[151], part[6]) == ("1", "4", "6", "40")
    # A fill against the restored resting order, and the rest of the partly filled one.
    venue.send(venue.cpty, sold_again, "2", "10", "30.00")
    fill = venue.until(venue.oms, lambda m: m.get(11) == resting and m.get(150) == "F")[-1]
    assert (fill[32], fill[31], fill[14], fill[151], fill[6], fill[39]) == ("10", "30", "10", "0", "30", "2")
    assert fill[37] == rest[37]
    venue.send(venue.cpty, new_id("S3"), "2", "6", "39.00", symbol="MSFT")
    filled = venue.until(venue.oms, lambda m: m.get(11) == partial and m.get(150) == "F")[-1]
    assert (filled[32], filled[31], filled[14], filled[6], filled[39]) == ("6", "40", "10", "40", "2")
    assert fill[17] not in told and filled[17] not in told and fill[17] != filled[17]  # ExecIDs go on
    assert venue.positions() == {"AAPL": 10, "MSFT": 10}


def test_a_cancel_replace_of_a_restored_order_works_after_a_clean_restart_too(day_venue):
    venue = day_venue
    first, replaced, canceled = new_id("C1"), new_id("C2"), new_id("C3")
    venue.send(venue.oms, first, "2", "5", "55.00", symbol="NVDA")
    venue.until(venue.oms, lambda m: m.get(11) == first)
    venue.restart(kill=False)
    venue.oms.send("G", {11: replaced, 41: first, 55: "NVDA", 54: "2", 38: "8", 40: "2", 44: "56.00"})
    answer = venue.until(venue.oms, lambda m: m.get(11) == replaced)[-1]
    assert (answer[35], answer[150], answer[38], answer[44], answer[41]) == ("8", "5", "8", "56", first)
    venue.restart(kill=True)
    venue.oms.send("F", {11: canceled, 41: replaced, 55: "NVDA", 54: "2", 38: "8"})
    done = venue.until(venue.oms, lambda m: m.get(11) == canceled)[-1]
    assert (done[35], done[150], done[39], done[37]) == ("8", "4", "4", answer[37])


def test_a_new_trading_day_keeps_gtc_orders_and_forgets_the_rest(day_venue):
    venue = day_venue
    gtc, day, done = new_id("GTC"), new_id("DAY"), new_id("DONE")
    venue.send(venue.oms, gtc, "1", "10", "20.00", tif="1")
    venue.send(venue.oms, day, "1", "10", "21.00")
    venue.send(venue.oms, done, "1", "3", "22.00")
    venue.until(venue.oms, lambda m: m.get(11) == done)
    venue.send(venue.cpty, new_id("S"), "2", "3", "22.00")
    venue.until(venue.oms, lambda m: m.get(11) == done and m.get(150) == "F")
    assert venue.positions() == {"AAPL": 3}

    said = venue.restart(kill=True, day=TUESDAY)

    assert "a new day" in said and "carried 1 resting GTC orders" in said, said
    kept = venue.status(gtc)
    assert (kept[39], kept[151]) == ("0", "10")
    for forgotten in (day, done):
        unknown = venue.status(forgotten)
        assert (unknown[39], unknown[103]) == ("8", "5"), unknown
    assert venue.positions() == {}
    venue.send(venue.oms, day, "1", "1", "19.00")  # yesterday's ClOrdID may be used again today
    assert venue.until(venue.oms, lambda m: m.get(11) == day)[-1][150] == "0"
    sold = new_id("S")
    venue.send(venue.cpty, sold, "2", "10", "20.00")
    fill = venue.until(venue.oms, lambda m: m.get(11) == gtc and m.get(150) == "F")[-1]
    assert (fill[14], fill[39]) == ("10", "2") and venue.positions() == {"AAPL": 10}


def test_a_fill_decided_but_not_yet_sent_when_the_venue_is_killed_is_sent_after_the_restart(day_venue):
    """Durable before report: the venue holds the OMS session's reports back (the delay_ms fault)
    and is killed while they wait. The fill it decided is in its store with the reports, which go
    out when it is back; the OMS session is told exactly what happened, once."""
    venue = day_venue
    bought, sold = new_id("HELD"), new_id("S")
    inject(venue.simulator.name, "OMS", delay_ms=60_000)
    venue.send(venue.oms, bought, "1", "7", "45.00", symbol="AMZN")
    venue.send(venue.cpty, sold, "2", "7", "45.00", symbol="AMZN")
    venue.until(venue.cpty, lambda m: m.get(11) == sold and m.get(150) == "F")  # it traded; OMS not told yet
    bus.client().delete(bus.key(f"venue:{venue.simulator.name}:faults:OMS"))  # not after the restart

    said = venue.restart(kill=True)

    # The OMS session's two, and CPTY's two if the kill came before their sent marks were committed.
    assert int(said.split(" reports to resend")[0].rsplit(" ", 1)[-1]) >= 2, said
    reports = venue.until(venue.oms, lambda m: m.get(11) == bought and m.get(150) == "F")
    assert [(m[150], m[39]) for m in reports if m.get(11) == bought] == [("0", "0"), ("F", "2")]
    assert _drain(venue.oms) == [] and venue.positions() == {"AMZN": 7}


def test_positions_equal_the_fills_reported_after_a_kill_under_load(day_venue):
    """The chaos case: orders cross as fast as two sessions send them, the venue is killed -9
    somewhere in the middle, started again, and what the OMS session was told (each fill once,
    by ExecID: a report resent after the restart may come twice) adds up to the position the
    venue reports. Nothing the venue decided is lost, nothing is invented."""
    venue = day_venue
    stop = threading.Event()

    def trade() -> None:
        while not stop.is_set():
            buy, sell = new_id("LB"), new_id("LS")
            try:
                venue.send(venue.oms, buy, "1", "1", "25.00")
                venue.send(venue.cpty, sell, "2", "1", "25.00")
            except AssertionError:  # not logged on this moment: quickfix refuses to queue
                pass
            time.sleep(0.002)

    trader = threading.Thread(target=trade, daemon=True)
    trader.start()
    time.sleep(1.5)
    venue.simulator.kill()
    stop.set()
    trader.join()
    venue.restart(kill=False)  # already dead: this starts it again and waits for the logons
    # Whatever the kill left unsent comes now (requeued or resent by quickfix); then settle.
    venue.oms.send("H", {11: (marker := new_id("END")), 55: "AAPL", 54: "1"})
    fills: dict[str, Decimal] = {}
    for message in venue.oms.receive_until(lambda m: m.get(11) == marker, timeout=30):
        if message.get(35) == "8" and message.get(150) == "F":
            fills[message[17]] = Decimal(message[32])
    drained = _drain(venue.oms)
    fills |= {m[17]: Decimal(m[32]) for m in drained if m.get(35) == "8" and m.get(150) == "F"}
    assert len(fills) > 10, "the load did not trade"
    assert venue.positions().get("AAPL", Decimal(0)) == sum(fills.values())


def _drain(session: FixSession, quiet: float = 1.0) -> list[dict[int, str]]:
    """Everything the session receives until it has been quiet for `quiet` seconds."""
    seen = []
    while True:
        try:
            seen.append(session.receive(timeout=quiet))
        except queue.Empty:
            return seen
