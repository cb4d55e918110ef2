"""The trading day: calendars (which day a moment is, when a venue closes), the simulated venue's
close, the engine's close sweep (ExpireDayOrders) and the ClOrdID window at the day's boundary,
all with a controlled clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from order_driver import PROPERTY_SETTINGS
from test_engine_risk_properties import reference_data

from orders import store
from orders.domain import close
from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.calendar import WEEKDAYS, CalendarError, TradingCalendar, parse_calendar, trading_day
from orders.domain.values import ExecType, OrderType, OrdStatus, Side, Strategy, TimeInForce
from orders.engine.decisions import Inputs, Outcome
from orders.engine.loop import Engine
from orders.engine.market import MarketInputs
from tradingday.domain import report as eod
from venues.simulator.book import Side as BookSide
from venues.simulator.book import TimeInForce as BookTif
from venues.simulator.fix_app import VenueApplication
from venues.simulator.venue import InstrumentSpec, Venue

D = Decimal
NY = ZoneInfo("America/New_York")
NEW_YORK_CLOSE = TradingCalendar("America/New_York", time(16), WEEKDAYS)
TEN = D(10)


def ns(year, month, day, hour=0, minute=0, second=0, zone=NY) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()) * 1_000_000_000


# -- the calendar ---------------------------------------------------------------------------------------


def test_a_moment_after_the_close_belongs_to_the_next_trading_day():
    # Wednesday 2 December 2026 in New York
    assert NEW_YORK_CLOSE.trading_day(ns(2026, 12, 2, 15, 59, 59)) == date(2026, 12, 2)
    assert NEW_YORK_CLOSE.trading_day(ns(2026, 12, 2, 16)) == date(2026, 12, 3)  # the close itself is after it
    assert NEW_YORK_CLOSE.next_close(ns(2026, 12, 2, 10)) == (date(2026, 12, 2), ns(2026, 12, 2, 16))
    assert NEW_YORK_CLOSE.last_close(ns(2026, 12, 2, 10)) == (date(2026, 12, 1), ns(2026, 12, 1, 16))
    assert NEW_YORK_CLOSE.last_close(ns(2026, 12, 2, 16)) == (date(2026, 12, 2), ns(2026, 12, 2, 16))


def test_weekends_off_a_friday_evening_is_mondays_and_mondays_last_close_is_fridays():
    friday_evening, saturday = ns(2026, 12, 4, 17), ns(2026, 12, 5, 12)
    assert NEW_YORK_CLOSE.trading_day(friday_evening) == date(2026, 12, 7)
    assert NEW_YORK_CLOSE.trading_day(saturday) == date(2026, 12, 7)
    assert NEW_YORK_CLOSE.last_close(ns(2026, 12, 7, 9)) == (date(2026, 12, 4), ns(2026, 12, 4, 16))


def test_the_close_follows_daylight_saving_time():
    # 16:00 New York is 21:00 UTC in winter and 20:00 UTC in summer
    assert NEW_YORK_CLOSE.close_at(date(2026, 12, 2)) == ns(2026, 12, 2, 21, zone=UTC)
    assert NEW_YORK_CLOSE.close_at(date(2026, 7, 1)) == ns(2026, 7, 1, 20, zone=UTC)


def test_a_midnight_close_is_the_end_of_the_local_date():
    tokyo = TradingCalendar("Asia/Tokyo")
    at = ns(2026, 11, 25, 23, 30, zone=UTC)  # the 26th in Tokyo
    assert tokyo.trading_day(at) == date(2026, 11, 26) == trading_day(at, "Asia/Tokyo")
    assert tokyo.close_at(date(2026, 11, 26)) == ns(2026, 11, 27, zone=ZoneInfo("Asia/Tokyo"))


@PROPERTY_SETTINGS
@given(
    at=st.integers(min_value=ns(2020, 1, 1), max_value=ns(2035, 1, 1)), others=st.lists(st.integers(-(10**15), 10**15))
)
def test_a_moment_is_between_its_days_previous_close_and_its_close_however_the_cache_was_left(at, others):
    calendar = TradingCalendar("America/New_York", time(16, 30), WEEKDAYS)
    for other in others:  # leave the calendar's remembered day anywhere
        calendar.trading_day(at + other)
    day = calendar.trading_day(at)
    assert calendar.close_at(calendar.previous_day(day)) <= at < calendar.close_at(day)
    assert day.weekday() < 5
    assert day == TradingCalendar("America/New_York", time(16, 30), WEEKDAYS).trading_day(at)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"close": "25:00"}, "not a time of day"),
        ({"zone": "Mars/Olympus"}, "unknown time zone"),
        ({"days": "someday"}, "trading days"),
        ({"closes": "16:00"}, "unknown key"),
    ],
)
def test_a_calendar_setting_that_makes_no_sense_is_refused_with_the_reason(spec, problem):
    with pytest.raises(CalendarError, match=problem):
        parse_calendar(spec, what="OMS_VENUE_CALENDAR['X']")


def test_a_calendar_setting_reads_close_zone_and_days():
    calendar = parse_calendar({"close": "16:00", "zone": "America/New_York", "days": "mon-fri"})
    assert calendar == NEW_YORK_CLOSE
    assert calendar.describe() == "closes 16:00:00 America/New_York, mon,tue,wed,thu,fri"


# -- the simulated venue's close --------------------------------------------------------------------------


class FakeOutbox:
    def __init__(self) -> None:
        self.messages: list = []

    def put(self, message, not_before: float) -> None:
        self.messages.append(message)

    def close(self) -> None:
        pass


def test_the_venue_expires_the_sessions_day_orders_at_the_close_and_gtc_orders_rest_on():
    venue = Venue("XSIM", [InstrumentSpec("AAPL", D("0.01"), D(1))])
    venue.new_order("OMS", "day-1", "AAPL", BookSide.BUY, D(10), D("10.00"), BookTif.DAY)
    venue.new_order("OMS", "gtc-1", "AAPL", BookSide.BUY, D(10), D("10.00"), BookTif.GTC)
    venue.new_order("mm-XSIM", "maker-1", "AAPL", BookSide.SELL, D(10), D("11.00"), BookTif.DAY)

    reports = venue.expire_day_orders({"OMS"}, "closed")

    assert [(r.cl_ord_id, r.exec_type, r.ord_status, r.leaves_qty, r.text) for r in reports] == [
        ("day-1", ExecType.EXPIRED, OrdStatus.EXPIRED, 0, "closed")
    ]
    assert {o.cl_ord_id for o in venue.books["AAPL"].resting()} == {"gtc-1", "maker-1"}
    status = venue.status("OMS", "day-1")
    assert status is not None and status.ord_status is OrdStatus.EXPIRED  # a status request says so later
    assert venue.expire_day_orders({"OMS"}) == []  # nothing twice


def test_the_acceptors_close_clock_expires_at_the_calendars_close_as_its_clock_reads():
    now = [ns(2026, 12, 2, 15, 59, 59)]
    venue = Venue("XSIM", [InstrumentSpec("AAPL", D("0.01"), D(1))])
    app = VenueApplication(venue, calendar=NEW_YORK_CLOSE, now_ns=lambda: now[0])
    app.outboxes["OMS"] = FakeOutbox()  # type: ignore[assignment]
    app.sessions["OMS"] = None  # type: ignore[assignment]
    venue.new_order("OMS", "day-1", "AAPL", BookSide.BUY, D(10), D("10.00"), BookTif.DAY)
    app.start()
    try:
        app._stop.wait(0.5)  # the clock looks a few times: not the close yet
        assert app.outboxes["OMS"].messages == []  # type: ignore[attr-defined]
        now[0] = ns(2026, 12, 2, 16)
        deadline = 50
        while not app.outboxes["OMS"].messages and deadline:  # type: ignore[attr-defined]
            app._stop.wait(0.1)
            deadline -= 1
    finally:
        app.stop()
    [message] = app.outboxes["OMS"].messages  # type: ignore[attr-defined]
    assert (message.getField(150), message.getField(39), message.getField(11)) == ("C", "C", "day-1")
    assert "2026-12-02" in message.getField(58)


# -- the engine: the close sweep and the ClOrdID window ------------------------------------------------


class EngineAtTheClose:
    """A real Engine in-process (no database, no Redis), the OMS's day ending at 16:00 New York."""

    def __init__(self, zone=NEW_YORK_CLOSE) -> None:
        self.engine = Engine()
        self.engine.zone = zone
        self.engine.reference = reference_data()
        self.engine.market = MarketInputs()
        self.engine.state = self.engine._empty_state()
        self.zone = zone
        self.ids = count(1)
        self.rows: list[store.StoredEvent] = []

    def market(self, at_ns: int) -> None:
        for venue in ("V1", "V2"):
            self.engine.market.apply("session", {"venue": venue, "state": "logged_on", "detail": "", "at_ns": at_ns})
            self.engine.market.apply("book", {"venue": venue, "symbol": "AAA", "bids": [["9.95", "100"]],
                                              "asks": [["10.00", "10"]], "last": "10.00", "at_ns": at_ns})  # fmt: skip

    def send(self, command, at_ns: int) -> tuple[Outcome, list]:
        self.market(at_ns)
        staged: list[store.StoredEvent] = []
        outcome = self.engine.handle(command, Inputs(self.engine.reference, self.engine.market, at_ns, self.zone),
                                     staged)  # fmt: skip
        self.rows += staged
        return outcome, [s.event for s in staged]

    def submit(self, at_ns: int, cl_ord_id: str, tif=TimeInForce.DAY, quantity=TEN, **extra) -> Outcome:
        command = cmd.SubmitOrder(f"c{next(self.ids)}", at_ns, "user:alice", "ACC-1", cl_ord_id, "AAA", Side.BUY,
                                  quantity, OrderType.LIMIT, tif, D("10.00"), **extra)  # fmt: skip
        return self.send(command, at_ns)[0]

    def report(self, order_id: int, exec_type: ExecType, at_ns: int, **extra) -> Outcome:
        command = cmd.ApplyExecutionReport(f"c{next(self.ids)}", at_ns, "venue:V1", order_id,
                                           f"E{next(self.ids)}", exec_type, **extra)  # fmt: skip
        return self.send(command, at_ns)[0]

    def cancel_reject(self, order_id: int, cl_ord_id: str, reason: str, at_ns: int) -> Outcome:
        command = cmd.ApplyCancelReject(f"c{next(self.ids)}", at_ns, "venue:V1", order_id, cl_ord_id, reason,
                                        f"refused: {reason}")  # fmt: skip
        return self.send(command, at_ns)[0]

    def close(self, venue: str, day: date, at_ns: int) -> tuple[Outcome, list]:
        command = cmd.ExpireDayOrders(f"c{next(self.ids)}", at_ns, "system:close", venue, day.isoformat(),
                                      NEW_YORK_CLOSE.close_at(day))  # fmt: skip
        return self.send(command, at_ns)

    def status(self, order_id: int) -> OrdStatus:
        return self.engine.state.orders[order_id].status


def test_a_cl_ord_id_is_a_duplicate_within_the_day_and_a_new_order_the_next_trading_day():
    oms = EngineAtTheClose()
    first = oms.submit(ns(2026, 12, 2, 15, 30), "ABC")
    assert first.outcome == "accepted"
    assert oms.submit(ns(2026, 12, 2, 15, 59, 59), "ABC").outcome == "duplicate"
    # just after the close: a retry of the 15:30 order would be late by half an hour: a new order
    after_close = oms.submit(ns(2026, 12, 2, 16, 0, 1), "ABC")
    assert after_close.outcome == "accepted" and after_close.order_id != first.order_id
    # and within that new day it is a duplicate again
    assert oms.submit(ns(2026, 12, 3, 9, 30), "ABC").outcome == "duplicate"


def test_a_retry_just_across_the_close_is_still_the_same_submission():
    oms = EngineAtTheClose()
    first = oms.submit(ns(2026, 12, 2, 15, 59, 50), "XYZ")
    retry = oms.submit(ns(2026, 12, 2, 16, 0, 5), "XYZ")  # the next day, within the retry window
    assert (retry.outcome, retry.order_id) == ("duplicate", first.order_id)


def test_the_close_sweep_asks_the_venue_to_cancel_day_orders_still_working_and_leaves_gtc_and_the_next_days_alone():
    oms = EngineAtTheClose()
    day = oms.submit(ns(2026, 12, 2, 10), "DAY-1").order_id  # sent, never acknowledged
    partly = oms.submit(ns(2026, 12, 2, 10, 1), "DAY-2").order_id
    oms.report(partly, ExecType.NEW, ns(2026, 12, 2, 10, 2))
    oms.report(partly, ExecType.TRADE, ns(2026, 12, 2, 10, 3), last_qty=D(4), last_px=D("10.00"), cum_qty=D(4))
    gtc = oms.submit(ns(2026, 12, 2, 10, 4), "GTC-1", TimeInForce.GTC).order_id
    elsewhere = oms.submit(ns(2026, 12, 2, 10, 5), "DAY-V2", venue="V2").order_id
    tomorrow = oms.submit(ns(2026, 12, 2, 16, 30), "DAY-NEXT").order_id  # after the close: the next day's
    assert None not in (day, partly, gtc, elsewhere, tomorrow)

    outcome, events = oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))

    # Nothing is declared over on the OMS's word: the venue is asked, and its answer ends them.
    assert outcome.outcome == "accepted" and outcome.text.startswith("2 DAY order(s) asked to cancel at V1")
    assert [(type(e), e.order_id, e.cl_ord_id) for e in events] == [
        (ev.OrderCancelRequested, day, f"EOD-{day}"), (ev.OrderCancelRequested, partly, f"EOD-{partly}"),
    ]  # fmt: skip
    assert all(e.text.startswith(close.CANCEL_TEXT) and "V1 closed trading day 2026-12-02" in e.text for e in events)
    assert oms.status(day) is OrdStatus.PENDING_CANCEL and oms.status(partly) is OrdStatus.PENDING_CANCEL
    assert oms.engine.state.orders[partly].text.startswith("canceled at the close by the OMS")  # on the order
    assert oms.status(gtc) is OrdStatus.PENDING_NEW
    assert oms.status(elsewhere) is OrdStatus.PENDING_NEW  # V2 has its own close
    assert oms.status(tomorrow) is OrdStatus.PENDING_NEW

    # The beat's next sweep, the answers not in yet: no second cancel.
    again, more = oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 2))
    assert (again.outcome, again.reason, more) == ("no_change", close.WAITING, [])
    assert "2 waiting for the venue's answer" in again.text

    # The venue cancels the one it works; the other it does not know: it never reached it.
    oms.report(partly, ExecType.CANCELED, ns(2026, 12, 2, 16, 2, 30), cl_ord_id=f"EOD-{partly}")
    oms.cancel_reject(day, f"EOD-{day}", "unknown_order", ns(2026, 12, 2, 16, 2, 31))
    assert oms.status(partly) is OrdStatus.CANCELED and oms.engine.state.orders[partly].cum_qty == 4
    assert oms.status(day) is OrdStatus.EXPIRED
    assert oms.engine.state.orders[day].text == close.UNKNOWN_TEXT
    assert {day, partly}.isdisjoint(oms.engine.state.live)

    done, none = oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 3))
    assert (done.outcome, done.reason, none) == ("no_change", "", [])


def test_an_order_the_venue_expired_is_not_expired_again_by_the_sweep():
    oms = EngineAtTheClose()
    order_id = oms.submit(ns(2026, 12, 2, 10), "DAY-1").order_id
    oms.report(order_id, ExecType.NEW, ns(2026, 12, 2, 10, 1))
    oms.report(order_id, ExecType.EXPIRED, ns(2026, 12, 2, 16), text="DAY order expired at the close of 2026-12-02")
    assert oms.engine.state.orders[order_id].text == "DAY order expired at the close of 2026-12-02"
    outcome, events = oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))
    assert (outcome.outcome, events) == ("no_change", [])


def test_an_acknowledged_order_the_venue_does_not_know_at_the_close_expires_and_a_clients_refusal_does_not():
    oms = EngineAtTheClose()
    lost = oms.submit(ns(2026, 12, 2, 10), "DAY-1").order_id
    oms.report(lost, ExecType.NEW, ns(2026, 12, 2, 10, 1))
    oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))
    oms.cancel_reject(lost, f"EOD-{lost}", "unknown_order", ns(2026, 12, 2, 16, 1, 1))
    assert oms.status(lost) is OrdStatus.EXPIRED

    # The same refusal of a client's own cancel leaves the order as it was (FIX's ordinary rule).
    client = oms.submit(ns(2026, 12, 3, 10), "DAY-2").order_id
    oms.report(client, ExecType.NEW, ns(2026, 12, 3, 10, 1))
    oms.send(cmd.CancelOrder("c-cxl", ns(2026, 12, 3, 10, 2), "user:alice", "ACC-1", client, "CXL-1", "DAY-2"),
             ns(2026, 12, 3, 10, 2))  # fmt: skip
    oms.cancel_reject(client, "CXL-1", "unknown_order", ns(2026, 12, 3, 10, 3))
    assert oms.status(client) is OrdStatus.NEW


def test_a_cancel_the_venue_refuses_at_the_close_is_asked_again_by_the_next_sweep_under_a_new_cl_ord_id():
    oms = EngineAtTheClose()
    order_id = oms.submit(ns(2026, 12, 2, 10), "DAY-1").order_id
    oms.report(order_id, ExecType.NEW, ns(2026, 12, 2, 10, 1))
    oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))
    oms.cancel_reject(order_id, f"EOD-{order_id}", "other", ns(2026, 12, 2, 16, 1, 1))  # the venue works it on
    assert oms.status(order_id) is OrdStatus.NEW
    outcome, events = oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 2))
    assert outcome.outcome == "accepted" and [e.cl_ord_id for e in events] == [f"EOD-{order_id}~2"]


def test_orders_with_a_request_pending_at_the_close_wait_for_its_answer_then_the_sweep_cancels_what_works_on():
    oms = EngineAtTheClose()
    replacing = oms.submit(ns(2026, 12, 2, 10), "DAY-1").order_id
    oms.report(replacing, ExecType.NEW, ns(2026, 12, 2, 10, 1))
    oms.send(cmd.ReplaceOrder("c-rpl", ns(2026, 12, 2, 15, 59), "user:alice", "ACC-1", replacing, "DAY-1R", "DAY-1",
                              quantity=D(20)), ns(2026, 12, 2, 15, 59))  # fmt: skip
    assert oms.status(replacing) is OrdStatus.PENDING_REPLACE
    outcome, events = oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))
    assert (outcome.outcome, outcome.reason, events) == ("no_change", close.WAITING, [])

    oms.report(replacing, ExecType.REPLACED, ns(2026, 12, 2, 16, 1, 30), cl_ord_id="DAY-1R", quantity=D(20),
               limit_price=D("10.00"))  # fmt: skip
    assert oms.status(replacing) is OrdStatus.NEW
    outcome, events = oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 2))
    assert outcome.outcome == "accepted"
    assert [(e.order_id, e.orig_cl_ord_id) for e in events] == [(replacing, "DAY-1R")]  # as the venue knows it


def test_a_kill_switchs_pending_cancels_are_not_asked_twice_at_the_close():
    oms = EngineAtTheClose()
    order_id = oms.submit(ns(2026, 12, 2, 10), "DAY-1").order_id
    oms.report(order_id, ExecType.NEW, ns(2026, 12, 2, 10, 1))
    engaged, _ = oms.send(cmd.EngageKillSwitch("c-ks", ns(2026, 12, 2, 15, 59), "user:risk", "firm", None, "drill"),
                          ns(2026, 12, 2, 15, 59))  # fmt: skip
    assert engaged.outcome == "accepted" and oms.status(order_id) is OrdStatus.PENDING_CANCEL
    outcome, events = oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))
    assert (outcome.outcome, outcome.reason, events) == ("no_change", close.WAITING, [])


def test_a_day_parent_has_its_children_canceled_venue_by_venue_and_ends_with_the_last():
    oms = EngineAtTheClose()
    parent = oms.submit(ns(2026, 12, 2, 10), "P-1", quantity=D(20), strategy=Strategy.SPLIT,
                        venues=("V1", "V2")).order_id  # fmt: skip
    assert parent is not None
    children = oms.engine.state.orders[parent].children
    venues = {c: oms.engine.state.orders[c].venue for c in children}
    assert set(venues.values()) == {"V1", "V2"}, venues
    at_v1 = [c for c, v in venues.items() if v == "V1"]
    at_v2 = [c for c, v in venues.items() if v == "V2"]

    _, first = oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))
    assert [(type(e), e.order_id) for e in first] == [(ev.OrderCancelRequested, c) for c in at_v1]
    for child in at_v1:
        oms.report(child, ExecType.CANCELED, ns(2026, 12, 2, 16, 1, 30), cl_ord_id=f"EOD-{child}")
    assert oms.status(parent) is not OrdStatus.CANCELED  # it works on at V2
    anomalies = [r.event for r in oms.rows if isinstance(r.event, ev.ExecutionAnomalyRecorded)]
    assert anomalies == []  # the close's own cancel is no child lost
    assert not [r for r in oms.rows if isinstance(r.event, ev.OrderRouted) and r.event.order_id == parent][1:]

    _, second = oms.close("V2", date(2026, 12, 2), ns(2026, 12, 2, 16, 2))
    assert [e.order_id for e in second] == at_v2
    for child in at_v2:
        oms.cancel_reject(child, f"EOD-{child}", "unknown_order", ns(2026, 12, 2, 16, 2, 30))
    assert all(oms.status(c) in (OrdStatus.CANCELED, OrdStatus.EXPIRED) for c in children)
    assert oms.status(parent) in (OrdStatus.CANCELED, OrdStatus.EXPIRED)
    assert parent not in oms.engine.state.live


def test_at_an_inactive_venue_nothing_could_carry_a_cancel_so_the_day_orders_expire_saying_so():
    oms = EngineAtTheClose()
    direct = oms.submit(ns(2026, 12, 2, 10), "DAY-V2", venue="V2").order_id
    parent = oms.submit(ns(2026, 12, 2, 10, 1), "P-1", quantity=D(20), strategy=Strategy.SPLIT,
                        venues=("V1", "V2")).order_id  # fmt: skip
    assert parent is not None
    oms.engine.reference.venues = {"V1"}  # V2 made inactive in admin: the connector drops its session

    outcome, events = oms.close("V2", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))

    assert outcome.outcome == "accepted" and not any(isinstance(e, ev.OrderCancelRequested) for e in events)
    at_v2 = {c for c in oms.engine.state.orders[parent].children if oms.engine.state.orders[c].venue == "V2"}
    assert {e.order_id for e in events if isinstance(e, ev.OrderExpired)} == {direct} | at_v2
    assert all(e.text.startswith(close.UNREACHABLE_TEXT) for e in events if isinstance(e, ev.OrderExpired))
    assert not any(isinstance(e, ev.ExecutionAnomalyRecorded) for e in events)
    assert oms.status(parent) is not OrdStatus.EXPIRED  # it works on at V1


def test_a_sweep_for_an_unknown_venue_is_refused():
    outcome, events = EngineAtTheClose().close("NOWHERE", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))
    assert (outcome.outcome, outcome.reason, events) == ("error", "unknown_venue", [])


def test_a_replay_of_the_log_rebuilds_the_swept_state():
    oms = EngineAtTheClose()
    oms.submit(ns(2026, 12, 2, 10), "DAY-1")
    oms.submit(ns(2026, 12, 2, 10, 1), "P-1", quantity=D(20), strategy=Strategy.SPLIT, venues=("V1", "V2"))
    oms.close("V1", date(2026, 12, 2), ns(2026, 12, 2, 16, 1))
    oms.close("V2", date(2026, 12, 2), ns(2026, 12, 2, 16, 2))
    replayed = oms.engine._empty_state()
    for stored in oms.rows:
        replayed.fold(stored, NEW_YORK_CLOSE)
    assert replayed.orders == oms.engine.state.orders
    assert replayed.cl_ord_ids == oms.engine.state.cl_ord_ids


# -- the end-of-day report ------------------------------------------------------------------------------


def test_the_report_adds_up_orders_by_status_fills_and_positions_per_account():
    day = date(2026, 12, 2)
    order = eod.OrderRow(1, "A", "AAA", "buy", "filled", "day", D(100), D(100), day)
    rows = eod.AccountDay(
        "ACC-1",
        orders=[order, eod.OrderRow(2, "B", "AAA", "sell", "expired", "day", D(50), D(0), day)],
        carried=[eod.OrderRow(3, "C", "BBB", "buy", "new", "gtc", D(10), D(0), date(2026, 12, 1))],
        fills=[eod.FillRow(1, "AAA", "buy", D(60), D("10.00")), eod.FillRow(1, "AAA", "buy", D(40), D("10.50"))],
        positions=[eod.PositionRow("AAA", D(100), D("10.2"), D(0))],
        breaks=[],
    )
    content = eod.report(day, datetime(2026, 12, 3, tzinfo=UTC), [rows, eod.AccountDay("IDLE", [], [], [], [], [])], [])
    [section] = content["accounts"]  # an account with nothing to show is left out
    assert section["orders"] == {"total": 2, "by_status": {"expired": 1, "filled": 1}}
    assert section["fills"]["count"] == 2 and section["fills"]["bought"] == "100" and section["fills"]["sold"] == "0"
    assert section["fills"]["notional"] == "1020"
    assert section["fills"]["by_symbol"] == [
        {"symbol": "AAA", "side": "buy", "count": 2, "quantity": "100", "notional": "1020", "avg_px": "10.2"}
    ]
    assert section["positions"] == [{"symbol": "AAA", "quantity": "100", "avg_cost": "10.2", "realized_pnl": "0"}]
    assert [o["order_id"] for o in section["carried_open_orders"]] == [3]
    lines = eod.csv_text(content).splitlines()
    assert lines[0] == ",".join(eod.CSV_COLUMNS)
    assert "2026-12-02,ACC-1,fills,AAA buy,2,100,10.2,1020," in lines
