"""A day boundary driven with a controlled clock, through the real engine, PostgreSQL, Redis and
(for the venue's own close) a simulated venue and the connector over FIX.

- The OMS's close sweep and the end-of-day report: orders stamped on a past trading day go to
  HELD (a venue that never answers, tests/integration/conftest.py, so the test answers for it);
  the sweep and the report run with `now` on that day's evening. DAY orders still working are
  asked to cancel (EOD-<id>) and end as the venue answers, the sweep runs again until they have,
  GTC orders carry, a DAY parent ends with its child, the ClOrdID is free again the next day, the
  report has the figures.
- The venue's close: a simulator started with OMS_CLOCK_OFFSET_S so its clock reads just before a
  close expires the DAY order itself (150=C) and keeps the GTC one; the sweep then has nothing to do.
- A venue that leaves its DAY orders working (a simulator with --no-close): the sweep's cancel goes
  out through the connector and the venue's Canceled ends the order; with the venue down, the cancel
  waits and ends the order once the venue is back.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from venue_stack import Connector, Simulator, manage, status_is, wait_order

from orders import bus, calendars
from orders.domain import commands as cmd
from orders.domain.values import ExecType, OrderType, OrdStatus, Side, Strategy, TimeInForce
from orders.engine.reference import RELOAD_MIN_SECONDS
from orders.models import Account, Event, Order
from tradingday import services
from tradingday.models import CloseSweep, EndOfDayAccount, EndOfDayReport
from venues.models import Venue

D = Decimal
DAY = date(2026, 6, 3)  # a Wednesday: HELD closes at 16:00 New York, 20:00 UTC
S = 1_000_000_000


def at(day: date, hour: int, minute: int = 0) -> int:
    """UTC nanoseconds."""
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).timestamp()) * S


@pytest.fixture(scope="module")
def account(db_ready, django_db_blocker):
    """An account of this test's own, committed so the engine sees it: its figures are exactly these orders'."""
    with django_db_blocker.unblock():
        code = f"EOD-{uuid.uuid4().hex[:8]}"
        Account.objects.create(code=code, name="end-of-day test book")
    time.sleep(RELOAD_MIN_SECONDS + 0.05)  # the engine reloads its reference data at most this often
    return code


class Desk:
    """Commands as the edges send them, stamped with the test's clock."""

    def __init__(self, account: str) -> None:
        self.account = account

    def submit(self, at_ns: int, cl_ord_id: str, quantity: str, tif=TimeInForce.DAY, **extra) -> dict:
        command = cmd.SubmitOrder(bus.new_command_id(), at_ns, "user:trader", self.account, cl_ord_id, "AAPL",
                                  Side.BUY, D(quantity), OrderType.LIMIT, tif, D("100.00"), **extra)  # fmt: skip
        return bus.send(command, timeout=20)

    def venue_says(self, order_id: int, at_ns: int, exec_type: ExecType, **extra) -> dict:
        command = cmd.ApplyExecutionReport(bus.new_command_id(), at_ns, "venue:HELD", order_id,
                                           f"H-{uuid.uuid4().hex[:10]}", exec_type, **extra)  # fmt: skip
        return bus.send(command, timeout=20)

    def venue_refuses_cancel(self, order_id: int, at_ns: int, cl_ord_id: str, reason: str) -> dict:
        command = cmd.ApplyCancelReject(bus.new_command_id(), at_ns, "venue:HELD", order_id, cl_ord_id, reason,
                                        f"refused: {reason}")  # fmt: skip
        return bus.send(command, timeout=20)

    def fill(self, order_id: int, at_ns: int, qty: str, px: str, cum: str, status: OrdStatus) -> None:
        assert self.venue_says(order_id, at_ns, ExecType.NEW)["outcome"] == "accepted"
        answer = self.venue_says(order_id, at_ns + S, ExecType.TRADE, last_qty=D(qty), last_px=D(px), cum_qty=D(cum),
                                 ord_status=status)  # fmt: skip
        assert answer["outcome"] == "accepted", answer


def test_the_close_expires_the_day_orders_the_venue_left_and_the_end_of_day_report_has_the_day(
    engine, account, settings, tmp_path
):
    settings.OMS_REPORTS_DIR = str(tmp_path)
    desk = Desk(account)
    morning = at(DAY, 14)
    day_order = desk.submit(morning, "DAY-1", "100")
    gtc = desk.submit(morning + S, "GTC-1", "50", TimeInForce.GTC)
    partly = desk.submit(morning + 2 * S, "DAY-2", "100")
    filled = desk.submit(morning + 3 * S, "DAY-3", "30")
    parent = desk.submit(morning + 4 * S, "PARENT-1", "20", strategy=Strategy.SPLIT, venues=("HELD",))
    assert {a["outcome"] for a in (day_order, gtc, partly, filled, parent)} == {"accepted"}, (day_order, parent)
    assert desk.submit(at(DAY, 19), "DAY-1", "100")["order_id"] == day_order["order_id"]  # within the day: the same
    desk.fill(partly["order_id"], at(DAY, 15), "40", "100", "40", OrdStatus.PARTIALLY_FILLED)
    desk.fill(filled["order_id"], at(DAY, 15, 5), "30", "101", "30", OrdStatus.FILLED)

    close = calendars.venue_calendar("HELD").close_at(DAY)
    assert close == at(DAY, 20)
    evening = close + int(services._grace_ns()) + S
    # Within the grace period the last close swept is the day before's: nothing of today's moves.
    [before] = services.day_orders_expire(now_ns=close + S, only=["HELD"])
    assert (before.trading_day, before.outcome) == (date(2026, 6, 2), "no_change")
    [sweep] = services.day_orders_expire(now_ns=evening, only=["HELD"])
    assert (sweep.venue, sweep.trading_day, sweep.outcome) == ("HELD", DAY, "accepted")
    assert sweep.text.startswith("3 DAY order(s) asked to cancel at HELD"), sweep.text

    def order(answer: dict) -> Order:
        return Order.objects.get(id=answer["order_id"])

    # The OMS declares nothing over on its own word: it asks the venue, as for any cancel.
    [child] = Order.objects.filter(parent_id=parent["order_id"])
    for asked in (order(day_order), order(partly), child):
        assert asked.status == "pending_cancel" and asked.pending_cl_ord_id == f"EOD-{asked.id}"
        assert asked.text.startswith("canceled at the close by the OMS"), asked.text
        request = Event.objects.get(stream_id=asked.id, event_type="OrderCancelRequested")
        assert request.actor == "system:close" and "HELD closed trading day 2026-06-03" in request.payload["text"]
    assert order(gtc).status == "pending_new"  # GTC carries to the next day
    assert order(filled).status == "filled"

    # The next minute's sweep runs again (the cancels are not answered) and sends nothing twice.
    [waiting] = services.day_orders_expire(now_ns=evening + 60 * S, only=["HELD"])
    assert (waiting.outcome, waiting.text.endswith("3 waiting for the venue's answer to a request pending")) == (
        "waiting", True), waiting.text  # fmt: skip
    assert Event.objects.filter(stream_id=day_order["order_id"], event_type="OrderCancelRequested").count() == 1

    # The venue answers: it cancels what it works, and does not know the order that never reached it.
    answered = evening + 90 * S
    assert desk.venue_refuses_cancel(day_order["order_id"], answered, f"EOD-{day_order['order_id']}",
                                     "unknown_order")["outcome"] == "accepted"  # fmt: skip
    desk.venue_says(partly["order_id"], answered, ExecType.CANCELED, cl_ord_id=f"EOD-{partly['order_id']}")
    desk.venue_says(child.id, answered, ExecType.CANCELED, cl_ord_id=f"EOD-{child.id}")
    assert order(day_order).status == "expired"
    assert order(day_order).text.startswith("expired at the close by the OMS: the venue does not know the order")
    assert (order(partly).status, order(partly).cum_qty) == ("canceled", 40)
    assert order(parent).status == "canceled"  # with its last child
    [done] = services.day_orders_expire(now_ns=evening + 120 * S, only=["HELD"])
    assert done.outcome == "no_change"

    # Again: the sweep is done for the day, and the engine itself books nothing twice.
    assert services.day_orders_expire(now_ns=evening + 180 * S, only=["HELD"]) == []
    again = bus.send(cmd.ExpireDayOrders(bus.new_command_id(), evening, "system:close", "HELD", DAY.isoformat(), close))
    assert again["outcome"] == "no_change"
    assert Event.objects.filter(stream_id=day_order["order_id"], event_type="OrderExpired").count() == 1

    # The next trading day the ClOrdID is free: a new order.
    next_day = desk.submit(at(date(2026, 6, 4), 14), "DAY-1", "10")
    assert next_day["outcome"] == "accepted" and next_day["order_id"] != day_order["order_id"]

    # The end-of-day report, once the day (midnight UTC here) and every venue's close are over.
    assert services.end_of_day_due(now_ns=evening) == date(2026, 6, 2)  # the 3rd is not over yet: the 2nd is due
    after_midnight = at(date(2026, 6, 4), 0, 5)
    assert services.end_of_day_due(now_ns=after_midnight) == DAY
    record = services.end_of_day_run(now_ns=after_midnight)
    assert record is not None and record.trading_day == DAY
    assert services.end_of_day_run(now_ns=after_midnight + 60 * S) is None  # once

    content = json.loads((tmp_path / "eod-2026-06-03.json").read_text())
    [section] = [a for a in content["accounts"] if a["account"] == account]
    assert section["orders"] == {"total": 5, "by_status": {"canceled": 2, "expired": 1, "filled": 1, "pending_new": 1}}
    assert section["fills"]["count"] == 2
    assert (section["fills"]["bought"], section["fills"]["sold"], section["fills"]["notional"]) == ("70", "0", "7030")
    assert [(p["symbol"], p["quantity"]) for p in section["positions"]] == [("AAPL", "70")]
    assert section["open_breaks"] == []
    assert f"2026-06-03,{account},fills,total,2,,,7030," in (tmp_path / "eod-2026-06-03.csv").read_text()
    row = EndOfDayAccount.objects.get(report=record, account=account)
    assert (row.orders, row.fills, row.notional) == (5, 2, D(7030))

    # Leave nothing of this account working for the tests that follow (HELD never answers).
    desk.venue_says(gtc["order_id"], at(date(2026, 6, 4), 15), ExecType.CANCELED)
    desk.venue_says(next_day["order_id"], at(date(2026, 6, 4), 15), ExecType.CANCELED)


def test_end_of_day_on_demand_refuses_to_overwrite_unless_asked(engine, tmp_path):
    env = {"OMS_REPORTS_DIR": str(tmp_path)}
    first = manage("end_of_day", "--date", "2026-05-04", env=env)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "eod-2026-05-04.json").is_file() and (tmp_path / "eod-2026-05-04.csv").is_file()
    again = manage("end_of_day", "--date", "2026-05-04", env=env)
    assert again.returncode != 0 and "exists" in again.stderr and "--replace" in again.stderr
    replaced = manage("end_of_day", "--date", "2026-05-04", "--replace", env=env)
    assert replaced.returncode == 0, replaced.stderr
    bad = manage("end_of_day", "--date", "tomorrow", env=env)
    assert bad.returncode != 0 and "YYYY-MM-DD" in bad.stderr
    assert EndOfDayReport.objects.filter(trading_day=date(2026, 5, 4)).count() == 1


# -- the venue's own close, with the simulator's clock moved to just before it ---------------------------

MARGIN_S = 30  # the simulator's clock starts this long before its close


@pytest.fixture(scope="module")
def closing_venue(engine_process, django_db_blocker):
    calendar = calendars.venue_calendar("TDAY")
    day, close = calendar.next_close(time.time_ns() + 2 * 86_400 * S)
    offset_s = (close - MARGIN_S * S - time.time_ns()) / S
    os.environ["OMS_CLOCK_OFFSET_S"] = f"{offset_s:.3f}"
    try:
        sim = Simulator("TDAY", "--no-liquidity", "--close")
        sim.start()
    finally:
        del os.environ["OMS_CLOCK_OFFSET_S"]
    with django_db_blocker.unblock():
        Venue.objects.update_or_create(name="TDAY", defaults={"port": sim.port, "target_comp_id": "TDAY",
                                                              "active": True})  # fmt: skip
    connector = Connector(["TDAY"], resync_seconds=3)
    connector.start()
    try:
        connector.wait_logged_on()
        yield day, close, offset_s
    finally:
        connector.stop()
        sim.stop()
        with django_db_blocker.unblock():
            Venue.objects.filter(name="TDAY").update(active=False)


def test_at_its_close_the_venue_expires_day_orders_and_gtc_orders_carry(api, closing_venue):
    day, close, offset_s = closing_venue
    left = (close - (time.time_ns() + int(offset_s * S))) / S
    assert left > 5, f"the stack took too long to start: the simulator's close is {left:.0f}s away"

    def submit(tif: str) -> int:
        body = {
            "account": "DESK-EQ",
            "cl_ord_id": f"TD-{uuid.uuid4().hex[:10]}",
            "symbol": "MSFT",
            "side": "buy",
            "quantity": "10",
            "order_type": "limit",
            "limit_price": "50.00",
            "time_in_force": tif,
            "venue": "TDAY",
        }
        response = api.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    day_order, gtc = submit("day"), submit("gtc")
    wait_order(day_order, status_is("new"))
    wait_order(gtc, status_is("new"))
    expired = wait_order(day_order, status_is("expired"), timeout=MARGIN_S + 60)
    assert expired.text == f"DAY order expired at the close of {day}"  # the venue's 58 Text
    assert Order.objects.get(id=gtc).status == "new"
    # The OMS's sweep after the grace period finds nothing left at this venue.
    [sweep] = services.day_orders_expire(now_ns=close + services._grace_ns() + S, only=["TDAY"])
    assert sweep.outcome == "no_change"
    assert Order.objects.get(id=gtc).status == "new"
    assert not CloseSweep.objects.filter(venue="HELD", trading_day=day).exists()


def test_compliance_reads_the_report_in_admin_and_downloads_its_files_and_nobody_edits_it(db_ready, settings,
                                                                                          tmp_path):  # fmt: skip
    settings.OMS_REPORTS_DIR = str(tmp_path)
    report = services.end_of_day_report_make(date(2026, 5, 6), now_ns=at(date(2026, 5, 7), 1))
    compliance = Client()
    compliance.force_login(get_user_model().objects.get(username="compliance"))

    listed = compliance.get("/admin/tradingday/endofdayreport/")
    assert listed.status_code == 200 and b"eod-2026-05-06.json" in listed.content
    page = compliance.get(f"/admin/tradingday/endofdayreport/{report.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    download = compliance.get(f"/admin/tradingday/endofdayreport/{report.pk}/file/json/")
    assert download.status_code == 200
    assert json.loads(b"".join(download.streaming_content))["trading_day"] == "2026-05-06"
    csv_file = compliance.get(f"/admin/tradingday/endofdayreport/{report.pk}/file/csv/")
    assert csv_file.status_code == 200 and b"".join(csv_file.streaming_content).startswith(b"trading_day,account")
    assert compliance.get(f"/admin/tradingday/endofdayreport/{report.pk}/file/exe/").status_code == 404
    assert compliance.get("/admin/tradingday/endofdayreport/add/").status_code == 403

    trader = Client()
    trader.force_login(get_user_model().objects.get(username="trader"))
    assert trader.get(f"/admin/tradingday/endofdayreport/{report.pk}/file/json/").status_code == 302  # to login


# -- a venue that leaves its DAY orders working past its close: the OMS cancels them there ----------------


@pytest.fixture(scope="module")
def lingering_venue(engine_process, django_db_blocker):
    """A simulated venue that does not expire anything at its close (a venue's own expiry lost, or
    none at all), with the connector routing to it."""
    sim = Simulator("TEOD", "--no-liquidity", "--no-close")
    sim.start()
    with django_db_blocker.unblock():
        Venue.objects.update_or_create(name="TEOD", defaults={"port": sim.port, "target_comp_id": "TEOD",
                                                              "active": True})  # fmt: skip
    connector = Connector(["TEOD"], resync_seconds=3)
    connector.start()
    try:
        connector.wait_logged_on()
        yield sim, connector
    finally:
        connector.stop()
        sim.stop()
        with django_db_blocker.unblock():
            Venue.objects.filter(name="TEOD").update(active=False)


def test_the_close_sweep_cancels_at_the_venue_what_it_left_working_and_a_venue_down_gets_the_cancel_when_back(
    api, lingering_venue
):
    sim, connector = lingering_venue

    def submit(tif: str) -> int:
        body = {"account": "DESK-EQ", "cl_ord_id": f"TE-{uuid.uuid4().hex[:10]}", "symbol": "MSFT", "side": "buy",
                "quantity": "10", "order_type": "limit", "limit_price": "50.00", "time_in_force": tif,
                "venue": "TEOD"}  # fmt: skip
        response = api.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 201, response.content
        return wait_order(response.json()["id"], status_is("new")).id

    day_order, gtc = submit("day"), submit("gtc")
    calendar = calendars.venue_calendar("TEOD")
    _, close = calendar.next_close(time.time_ns())
    evening = close + services._grace_ns() + S
    [sweep] = services.day_orders_expire(now_ns=evening, only=["TEOD"])
    assert sweep.outcome == "accepted" and sweep.text.startswith("1 DAY order(s) asked to cancel at TEOD"), sweep.text
    # The connector sends the cancel like any other; the venue's answer ends the order.
    ended = wait_order(day_order, status_is("canceled"))
    assert ended.text.startswith("canceled at the close by the OMS"), ended.text
    assert [e.event_type for e in Event.objects.filter(stream_id=day_order).order_by("position")][-2:] == [
        "OrderCancelRequested", "OrderCanceled"]  # fmt: skip
    assert Order.objects.get(id=gtc).status == "new"  # GTC carries
    [done] = services.day_orders_expire(now_ns=evening + 60 * S, only=["TEOD"])
    assert done.outcome == "no_change"

    # The next day the venue is down at the sweep: the cancel waits for it (the order shows pending
    # cancel, never expired while the venue may still fill it) and ends it once the venue is back.
    late = submit("day")
    next_day, next_close = calendar.next_close(close + S)
    sim.stop()
    deadline = time.monotonic() + 30
    while venue_feed_state("TEOD") == "logged_on":
        assert time.monotonic() < deadline, "the session did not go down"
        time.sleep(0.1)
    [while_down] = services.day_orders_expire(now_ns=next_close + services._grace_ns() + S, only=["TEOD"])
    assert while_down.trading_day == next_day and while_down.outcome == "accepted", while_down.text
    assert Order.objects.get(id=late).status == "pending_cancel"
    sim.start()
    connector.wait_logged_on()
    assert wait_order(late, status_is("canceled")).status == "canceled"
    api.post(f"/api/v1/orders/{gtc}/cancel/", {}, format="json")
    wait_order(gtc, status_is("canceled"))


def venue_feed_state(name: str) -> str:
    from orders import venue_feed

    return venue_feed.read([name])[name]["state"]
