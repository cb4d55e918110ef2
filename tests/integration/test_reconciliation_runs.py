"""Reconciliation against a simulated venue, all real: run_venue and run_venues over FIX on
loopback, the engine recording breaks, the REST API resolving them. A break is made at the venue
with the `unreported_fill` fault (a trade its books hold and the OMS was never told of) or by
dropping a fill report on the way (a fill in flight)."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from conftest import new_cl_ord_id
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from venue_stack import COUNTERPARTY, Connector, Simulator, counterparty, inject, manage, status_is, wait_order

from oms_project.api import component_health
from orders.models import Event, Order, Position, PositionAdjustment
from reconciliation import services
from reconciliation.models import ReconciliationBreak
from venues.models import Venue

VENUE = "TREC"
ACCOUNT = "DESK-EQ"
D = Decimal


@pytest.fixture(scope="module")
def venue(engine_process, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        simulator = Simulator(VENUE, "--no-liquidity")
        simulator.start()
        Venue.objects.update_or_create(name=VENUE, defaults={"port": simulator.port, "target_comp_id": VENUE,
                                                             "active": True})  # fmt: skip
        connector = Connector([VENUE], resync_seconds=3600)  # the status resync only at logon: drops stay lost
        connector.start()
        connector.wait_logged_on()
        cpty = counterparty(simulator, tmp_path_factory.mktemp("cpty-rec"))
        try:
            yield simulator, connector, cpty
        finally:
            inject(VENUE)
            cpty.stop()
            connector.stop()
            simulator.stop()
            Venue.objects.filter(name=VENUE).update(active=False)


def client_for(username: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username=username))
    return client


def reconcile() -> services.VenueResult:
    (result,) = services.reconciliation_run([VENUE])
    assert result.answered, result.detail
    return result


def buy_filled(api, cpty, symbol: str, quantity: str, price: str) -> Order:
    body = {"account": ACCOUNT, "cl_ord_id": new_cl_ord_id("R"), "symbol": symbol, "side": "buy",
            "quantity": quantity, "order_type": "limit", "limit_price": price, "time_in_force": "day",
            "venue": VENUE}  # fmt: skip
    order = api.post("/api/v1/orders/", body, format="json").json()
    wait_order(order["id"], status_is("new"))
    sell(cpty, symbol, quantity, price)
    return wait_order(order["id"], status_is("filled"))


def sell(cpty, symbol: str, quantity: str, price: str) -> None:
    cpty.send("D", {11: f"C-{uuid.uuid4().hex[:10]}", 55: symbol, 54: "2", 38: quantity, 40: "2", 44: price, 59: "3"})


def risk_position(symbol: str) -> Decimal:
    """The account's position in `symbol` as the engine's risk checks count it (the usage API)."""
    (usage,) = client_for("risk").get(f"/api/v1/risk/usage/?account={ACCOUNT}").json()
    return next((Decimal(s["position"]) for s in usage["symbols"] if s["symbol"] == symbol), Decimal(0))


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def open_breaks() -> list[ReconciliationBreak]:
    return list(ReconciliationBreak.objects.filter(venue=VENUE, status="open").order_by("id"))


def held(symbol: str) -> Decimal:
    position = Position.objects.filter(account_id=ACCOUNT, symbol=symbol).first()
    return position.quantity if position else D(0)


def test_a_position_break_opens_stays_and_clears_by_itself(api, venue):
    _, _, cpty = venue
    buy_filled(api, cpty, "AAPL", "10", "30.00")
    assert reconcile().matches

    inject(VENUE, unreported_fill=f"{ACCOUNT} AAPL 5")  # the venue holds 5 more than it told us
    result = reconcile()
    assert [(d.kind, d.account, d.subject) for d in result.differences] == [("position", ACCOUNT, "AAPL")]
    (opened,) = open_breaks()
    assert (opened.kind, opened.account, opened.subject) == ("position", ACCOUNT, "AAPL")
    assert opened.venue_quantity - opened.oms_quantity == 5 and opened.venue_quantity == D(15)
    assert opened.text == f"{VENUE} {ACCOUNT} AAPL: the OMS holds 10, the venue reports 15"
    health = component_health()["reconciliation"]
    assert health.startswith("1 open break(s)") and f"break {opened.id}" in health
    assert client_for("trader").get("/api/v1/health/").json()["components"]["reconciliation"] == health

    events = Event.objects.filter(stream_type="reconciliation").count()
    assert not reconcile().matches  # the same difference again: the break stays, nothing new is recorded
    assert Event.objects.filter(stream_type="reconciliation").count() == events and open_breaks() == [opened]

    inject(VENUE, unreported_fill=f"{ACCOUNT} AAPL -5")  # the venue takes it back
    assert reconcile().matches
    cleared = ReconciliationBreak.objects.get(id=opened.id)
    assert cleared.status == "cleared" and cleared.close_text.startswith("cleared on the next run")
    assert open_breaks() == []


def test_an_engine_restarted_knows_the_open_breaks_from_the_log(api, venue, engine):
    inject(VENUE, unreported_fill=f"{ACCOUNT} AAPL 2")
    reconcile()
    (found,) = open_breaks()
    events = Event.objects.filter(stream_type="reconciliation").count()
    engine.stop()
    engine.start()
    assert not reconcile().matches
    assert Event.objects.filter(stream_type="reconciliation").count() == events and open_breaks() == [found]
    inject(VENUE, unreported_fill=f"{ACCOUNT} AAPL -2")
    assert reconcile().matches and open_breaks() == []


def test_accepting_the_venues_figure_books_an_audited_adjustment_and_the_next_run_matches(api, venue):
    inject(VENUE, unreported_fill=f"{ACCOUNT} MSFT 7")
    reconcile()
    (found,) = open_breaks()
    before = held("MSFT")
    usage_before = risk_position("MSFT")
    url = f"/api/v1/reconciliation/breaks/{found.id}/resolve/"

    refused = client_for("trader").post(url, {"resolution": "accept", "reason": "looks right"}, format="json")
    assert refused.status_code == 403 and "risk and compliance" in refused.json()["detail"]
    no_reason = client_for("risk").post(url, {"resolution": "accept", "reason": ""}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    assert ReconciliationBreak.objects.get(id=found.id).status == "open"

    answer = client_for("risk").post(url, {"resolution": "accept", "reason": "venue confirmed the trade"},
                                     format="json")  # fmt: skip
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["break"]["status"] == "accepted" and body["break"]["adjustment"] == "7.00000000"
    assert "adjusted by 7" in body["detail"]
    adjusted = Event.objects.get(stream_type="reconciliation", stream_id=found.id, event_type="PositionAdjusted")
    assert adjusted.actor == "user:risk" and adjusted.payload["reason"] == "venue confirmed the trade"
    assert adjusted.payload["quantity"] == "7" and adjusted.account == ACCOUNT
    assert not Event.objects.filter(stream_type="order", position__gt=adjusted.position - 1,
                                    event_type__in=["OrderFilled", "OrderPartiallyFilled"],
                                    command_id=adjusted.command_id).exists()  # no invented fill  # fmt: skip
    assert held("MSFT") == before + 7
    row = PositionAdjustment.objects.get(id=adjusted.position)
    assert (row.venue, row.account_id, row.symbol, row.quantity, row.actor) == (VENUE, ACCOUNT, "MSFT", 7, "user:risk")

    # The limits count from the venue's figure too: the engine's risk usage moved with the projection.
    assert wait_for(lambda: risk_position("MSFT") == usage_before + 7), risk_position("MSFT")

    assert reconcile().matches  # the adjustment counts on the OMS's side now
    again = client_for("risk").post(url, {"resolution": "dismiss", "reason": "twice"}, format="json")
    assert again.status_code == 400 and again.json()["reason"] == "break_closed"


def test_dismissing_books_nothing_and_the_same_difference_stays_quiet(api, venue):
    inject(VENUE, unreported_fill=f"{ACCOUNT} NVDA -4")
    reconcile()
    (found,) = open_breaks()
    before = held("NVDA")
    url = f"/api/v1/reconciliation/breaks/{found.id}/resolve/"
    answer = client_for("compliance").post(url, {"resolution": "dismiss", "reason": "booked elsewhere"}, format="json")
    assert answer.status_code == 200 and answer.json()["break"]["status"] == "dismissed"
    assert held("NVDA") == before
    assert not Event.objects.filter(stream_type="reconciliation", stream_id=found.id,
                                    event_type="PositionAdjusted").exists()  # fmt: skip
    assert not reconcile().matches and open_breaks() == []  # dismissed: this very difference opens nothing
    listed = client_for("risk").get("/api/v1/reconciliation/breaks/", {"status": "resolved", "venue": VENUE}).json()
    assert found.id in [b["id"] for b in listed]
    inject(VENUE, unreported_fill=f"{ACCOUNT} NVDA 4")  # back to what the OMS holds
    assert reconcile().matches


def test_a_fill_report_lost_on_the_way_opens_an_order_and_a_position_break_that_clear_once_it_is_booked(api, venue):
    _, connector, cpty = venue
    body = {"account": ACCOUNT, "cl_ord_id": new_cl_ord_id("R"), "symbol": "AMZN", "side": "buy", "quantity": "10",
            "order_type": "limit", "limit_price": "40.00", "time_in_force": "day", "venue": VENUE}  # fmt: skip
    order = api.post("/api/v1/orders/", body, format="json").json()
    wait_order(order["id"], status_is("new"))
    assert reconcile().matches  # the resting order is open on both sides
    inject(VENUE, drop_exec_reports=1, symbol="AMZN")
    sell(cpty, "AMZN", "4", "40.00")  # fills 4; the report to the OMS is dropped
    cpty.receive_until(lambda m: m.get(150) == "F" and m.get(55) == "AMZN")
    result = reconcile()
    assert {(d.kind, d.subject) for d in result.differences} == {("order", str(order["id"])), ("position", "AMZN")}
    order_break = next(b for b in open_breaks() if b.kind == "order")
    assert (order_break.oms_status, order_break.oms_quantity) == ("new", 0)
    assert (order_break.venue_status, order_break.venue_quantity) == ("partially_filled", 4)
    refused = client_for("risk").post(f"/api/v1/reconciliation/breaks/{order_break.id}/resolve/",
                                      {"resolution": "accept", "reason": "x"}, format="json")  # fmt: skip
    assert refused.status_code == 400 and refused.json()["reason"] == "not_adjustable"

    inject(VENUE)
    connector.stop()  # at its next logon the connector asks where each live order stands: the fill comes back
    connector.start()
    connector.wait_logged_on()
    wait_order(order["id"], lambda o: o.cum_qty == 4)
    assert reconcile().matches
    assert open_breaks() == []
    assert ReconciliationBreak.objects.get(id=order_break.id).close_text.startswith("cleared on the next run")
    api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    wait_order(order["id"], status_is("canceled"))


def test_reconcile_venues_prints_the_run_and_the_projections_rebuild_the_same(venue):
    result = manage("reconcile_venues", "--venue", VENUE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{VENUE}: positions match" in result.stdout
    verify = manage("rebuild_projections", "--verify", timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert COUNTERPARTY  # the venue's other session traded with us throughout


def test_in_admin_an_open_breaks_page_offers_resolving_to_those_who_may_and_the_form_shows_both_figures(db_ready):
    from datetime import UTC, datetime

    from django.contrib.auth.models import Permission
    from django.test import Client

    # A break row as the projection holds one (this test's transaction only: nothing is resolved here;
    # resolving through the engine is the e2e test's, tests/e2e/test_reconciliation_admin.py).
    found = ReconciliationBreak.objects.create(
        id=10**12 + 7, kind="position", venue=VENUE, account=ACCOUNT, subject="AMZN", oms_quantity=D(10),
        venue_quantity=D("12.5"), venue_price=D("180.2"), text=f"{VENUE} {ACCOUNT} AMZN: the OMS holds 10, "
        "the venue reports 12.5", opened_at=datetime.now(UTC), run_id="rec-test", position=1,
    )  # fmt: skip
    page = f"/admin/reconciliation/reconciliationbreak/{found.id}/change/"
    form = f"/admin/reconciliation/reconciliationbreak/{found.id}/resolve/"
    risk = Client()
    risk.force_login(get_user_model().objects.get(username="risk"))
    shown = risk.get(page)
    assert shown.status_code == 200 and b"Resolve this break" in shown.content and form.encode() in shown.content
    resolve = risk.get(form)
    assert resolve.status_code == 200
    assert b"+2.5 to the OMS's position" in resolve.content and b"12.5 (settlement price 180.2)" in resolve.content
    no_reason = risk.post(form, {"resolution": "accept", "reason": "  "})
    assert no_reason.status_code == 200 and b"This field is required" in no_reason.content
    assert ReconciliationBreak.objects.get(id=found.id).status == "open"

    # A staff user who may look but not resolve is told who resolves; the form sends them back.
    viewer, _ = get_user_model().objects.get_or_create(username="rec-viewer", defaults={"is_staff": True})
    viewer.user_permissions.add(Permission.objects.get(codename="view_reconciliationbreak"))
    looking = Client()
    looking.force_login(viewer)
    shown = looking.get(page)
    assert shown.status_code == 200 and b"Resolve this break" not in shown.content
    assert b"the risk and compliance roles resolve it" in shown.content
    refused = looking.get(form, follow=True)
    assert refused.redirect_chain == [(page, 302)] and b"risk and compliance roles may resolve" in refused.content

    closed = ReconciliationBreak.objects.filter(id=found.id)
    closed.update(status="accepted", closed_by="user:risk")
    assert b"Resolve this break" not in risk.get(page).content
    assert b"already accepted" in risk.get(form, follow=True).content
    listed = risk.get("/admin/reconciliation/reconciliationbreak/?state=open")
    assert listed.status_code == 200 and str(found.id).encode() not in listed.content
