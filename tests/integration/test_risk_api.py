"""The risk controls of CONTRACT.md over REST, health and the CLI, against a real engine.

The conftest runs the demo accounts without limits and every band wide, so these tests make
their own accounts and an instrument (committed, for the engine's process to see) and set their
limits through the engine, as a risk officer would.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from conftest import new_cl_ord_id
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient
from venue_stack import manage

from orders.models import Account, Event, Instrument
from risk import services

pytestmark = pytest.mark.usefixtures("engine")

TAG = uuid.uuid4().hex[:6].upper()
LIMITS_ACCOUNT = f"RK-LIM-{TAG}"  # granted to trader
SWITCH_ACCOUNT = f"RK-KS-{TAG}"  # granted to trader
OTHER_ACCOUNT = f"RK-OTHER-{TAG}"  # granted to nobody
SYMBOL = f"RK{TAG}"  # nobody quotes it: no reference


def client_for(username: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username=username))
    return client


@pytest.fixture(scope="module")
def risk_data(db_ready, engine_process, django_db_blocker):
    """Accounts and an instrument of this module, committed (outside any test's transaction),
    then waited for until the engine has loaded them."""
    with django_db_blocker.unblock():
        trader = get_user_model().objects.get(username="trader")
        for code in (LIMITS_ACCOUNT, SWITCH_ACCOUNT, OTHER_ACCOUNT):
            account = Account.objects.create(code=code, name=f"risk tests {code}")
            if code != OTHER_ACCOUNT:
                account.users.add(trader)
        Instrument.objects.create(symbol=SYMBOL, tick_size=Decimal("0.01"), lot_size=1, asset_class="equity")
        risk = get_user_model().objects.get(username="risk")
        deadline = time.monotonic() + 20
        while True:  # a no-op change names the account and symbol: refused while they are unknown
            try:
                services.limits_change(user=risk, account=OTHER_ACCOUNT, symbol=SYMBOL, changes={}, reason="load")
                break
            except services.Refused:
                assert time.monotonic() < deadline, "the engine never loaded the test's account and instrument"
                time.sleep(0.5)
        yield
        Instrument.objects.filter(symbol=SYMBOL).update(active=False)  # health stops warning about it


@pytest.fixture
def risk_api(risk_data) -> APIClient:
    return client_for("risk")


@pytest.fixture
def trader_api(risk_data) -> APIClient:
    return client_for("trader")


@pytest.fixture
def compliance_api(risk_data) -> APIClient:
    return client_for("compliance")


def patch_limits(client: APIClient, account: str, **body):
    return client.patch(f"/api/v1/risk/limits/{account}/", body, format="json")


def submit(client: APIClient, account: str, quantity: str = "10", price: str = "100") -> dict:
    body = {"account": account, "cl_ord_id": new_cl_ord_id("RK"), "symbol": "AAPL", "side": "buy",
            "quantity": quantity, "order_type": "limit", "limit_price": price, "time_in_force": "day"}  # fmt: skip
    response = client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def wait_for(fetch, predicate, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        assert time.monotonic() < deadline, f"timed out; last: {value}"
        time.sleep(0.1)


# -- limits -------------------------------------------------------------------------------------


def test_limit_change_is_recorded_with_actor_old_new_and_reason(risk_api):
    first = patch_limits(risk_api, LIMITS_ACCOUNT, max_order_qty="100", reason="desk start")
    assert first.status_code == 200, first.content
    second = patch_limits(risk_api, LIMITS_ACCOUNT, max_order_qty="250", credit_limit=None, reason="more room")
    assert second.status_code == 200, second.content
    assert second.json()["max_order_qty"] == "250" and second.json()["account"] == LIMITS_ACCOUNT
    assert "100 -> 250" in second.json()["detail"]
    event = Event.objects.filter(event_type="RiskLimitsChanged", payload__account=LIMITS_ACCOUNT).latest("position")
    assert event.actor == "user:risk"
    assert event.payload["reason"] == "more room"
    assert [(c["name"], Decimal(c["old"]), Decimal(c["new"])) for c in event.payload["changes"]] == [
        ("max_order_qty", Decimal(100), Decimal(250))
    ]


def test_trader_may_not_change_limits(trader_api):
    response = patch_limits(trader_api, LIMITS_ACCOUNT, max_order_qty="1", reason="mine")
    assert response.status_code == 403


def test_limit_change_without_reason_is_400_naming_reason(risk_api):
    response = patch_limits(risk_api, LIMITS_ACCOUNT, max_order_qty="5")
    assert response.status_code == 400 and "reason" in response.json()
    blank = patch_limits(risk_api, LIMITS_ACCOUNT, max_order_qty="5", reason="   ")
    assert blank.status_code == 400 and "reason" in blank.json()


@pytest.mark.parametrize(("body", "field"), [
    ({"max_order_qty": "-1"}, "max_order_qty"),
    ({"credit_limit": "lots"}, "credit_limit"),
    ({}, "non_field_errors"),
])  # fmt: skip
def test_bad_limit_values_are_400_naming_the_field(risk_api, body, field):
    response = patch_limits(risk_api, LIMITS_ACCOUNT, reason="typo", **body)
    assert response.status_code == 400 and field in response.json(), response.content


def test_unknown_account_is_404(risk_api):
    assert patch_limits(risk_api, "NO-SUCH-ACCOUNT", max_order_qty="1", reason="x").status_code == 404


def test_symbol_override_is_set_apart_from_the_account_limits(risk_api):
    response = patch_limits(risk_api, LIMITS_ACCOUNT, symbol="MSFT", max_position_qty="7", reason="MSFT news")
    assert response.status_code == 200, response.content
    limits = response.json()
    assert limits["symbols"]["MSFT"]["max_position_qty"] == "7"
    assert limits["max_position_qty"] != "7"


def test_trader_sees_the_limits_of_granted_accounts_only(trader_api, compliance_api):
    seen = {row["account"] for row in trader_api.get("/api/v1/risk/limits/").json()}
    assert {LIMITS_ACCOUNT, SWITCH_ACCOUNT} <= seen and OTHER_ACCOUNT not in seen
    assert trader_api.get(f"/api/v1/risk/limits/{OTHER_ACCOUNT}/").status_code == 403
    everything = {row["account"] for row in compliance_api.get("/api/v1/risk/limits/").json()}
    assert {LIMITS_ACCOUNT, SWITCH_ACCOUNT, OTHER_ACCOUNT} <= everything
    row = next(r for r in compliance_api.get("/api/v1/risk/limits/").json() if r["account"] == OTHER_ACCOUNT)
    assert row["max_order_qty"] is None and row["symbols"] == {}


# -- usage --------------------------------------------------------------------------------------


def test_usage_shows_pending_exposure_and_headroom(risk_api, trader_api):
    patch_limits(risk_api, LIMITS_ACCOUNT, max_order_qty="1000", max_position_qty="1000",
                 max_gross_notional="1000000", reason="usage test")  # fmt: skip
    before = trader_api.get("/api/v1/risk/usage/", {"account": LIMITS_ACCOUNT}).json()[0]
    pending = Decimal(next((s["pending_buy"] for s in before["symbols"] if s["symbol"] == "AAPL"), "0"))
    order = submit(trader_api, LIMITS_ACCOUNT, quantity="10", price="100")
    assert order["status"] == "pending_new", order

    def aapl() -> dict:
        usage = trader_api.get("/api/v1/risk/usage/", {"account": LIMITS_ACCOUNT}).json()[0]
        return next((s for s in usage["symbols"] if s["symbol"] == "AAPL"), {"pending_buy": "0"})

    row = wait_for(aapl, lambda s: Decimal(s["pending_buy"]) == pending + 10)
    assert Decimal(row["position_headroom_buy"]) == 1000 - Decimal(row["position"]) - pending - 10
    usage = trader_api.get("/api/v1/risk/usage/", {"account": LIMITS_ACCOUNT}).json()[0]
    assert Decimal(usage["headroom"]["max_gross_notional"]) == 1000000 - Decimal(usage["gross_notional"])
    assert usage["headroom"]["credit_limit"] is None  # no credit limit set


def test_usage_of_an_account_not_granted_is_refused(trader_api):
    assert trader_api.get("/api/v1/risk/usage/", {"account": OTHER_ACCOUNT}).status_code == 403
    assert trader_api.get("/api/v1/risk/usage/", {"account": "NO-SUCH"}).status_code == 404
    listed = {row["account"] for row in trader_api.get("/api/v1/risk/usage/").json()}
    assert LIMITS_ACCOUNT in listed and OTHER_ACCOUNT not in listed


# -- instruments --------------------------------------------------------------------------------


def test_risk_changes_an_instruments_band_and_it_shows(risk_api, trader_api):
    url = f"/api/v1/instruments/{SYMBOL}/"
    response = risk_api.patch(url, {"price_band_pct": "7.5", "restricted": True, "reason": "halt"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["price_band_pct"] == "7.5" and response.json()["restricted"] is True
    back = risk_api.patch(url, {"price_band_pct": None, "restricted": False, "reason": "resume"}, format="json")
    shown = trader_api.get(url).json()
    assert back.status_code == 200 and shown["price_band_pct"] == "10"  # the equity default
    assert shown["risk_overrides"] == {"price_band_pct": None, "max_reference_age_s": None}
    event = Event.objects.filter(event_type="InstrumentRiskChanged", payload__symbol=SYMBOL).latest("position")
    assert event.actor == "user:risk" and event.payload["reason"] == "resume"


def test_instrument_change_refused_for_trader_and_without_reason(risk_api, trader_api):
    url = f"/api/v1/instruments/{SYMBOL}/"
    assert trader_api.patch(url, {"restricted": True, "reason": "x"}, format="json").status_code == 403
    response = risk_api.patch(url, {"restricted": True}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert (
        risk_api.patch("/api/v1/instruments/NOPE/", {"restricted": True, "reason": "x"}, format="json").status_code
        == 404
    )


# -- kill switch --------------------------------------------------------------------------------


def engage(client: APIClient, scope: str, target: str | None, reason: str = "test"):
    return client.post(
        "/api/v1/kill-switch/engage/", {"scope": scope, "target": target, "reason": reason}, format="json"
    )


def release(client: APIClient, scope: str, target: str | None, reason: str = "test"):
    return client.post("/api/v1/kill-switch/release/", {"scope": scope, "target": target, "reason": reason},
                       format="json")  # fmt: skip


def test_trader_engages_own_account_which_halts_it_and_only_risk_releases(trader_api, risk_api, compliance_api):
    live = submit(trader_api, SWITCH_ACCOUNT)
    assert live["status"] == "pending_new"

    engaged = engage(trader_api, "account", SWITCH_ACCOUNT, "runaway algo")
    assert engaged.status_code == 201, engaged.content
    body = engaged.json()
    assert body["switch"]["engaged"] and body["switch"]["engaged_by"] == "user:trader"
    assert body["switch"]["reason"] == "runaway algo" and "1 live order(s) asked to cancel" in body["detail"]

    refused = submit(trader_api, SWITCH_ACCOUNT)
    assert refused["status"] == "rejected" and refused["reject_reason"] == "kill_switch"
    assert "kill switch" in refused["reject_text"], refused
    listed = trader_api.get("/api/v1/kill-switch/").json()
    assert {"scope": "account", "target": SWITCH_ACCOUNT} in [
        {"scope": s["scope"], "target": s["target"]} for s in listed
    ]
    warnings = APIClient().get("/api/v1/health/").json()["warnings"]
    assert any(f"account {SWITCH_ACCOUNT}" in w for w in warnings), warnings

    assert release(trader_api, "account", SWITCH_ACCOUNT).status_code == 403
    assert release(compliance_api, "account", SWITCH_ACCOUNT).status_code == 403
    released = release(risk_api, "account", SWITCH_ACCOUNT, "algo fixed")
    assert released.status_code == 200 and released.json()["switch"]["engaged"] is False
    assert submit(trader_api, SWITCH_ACCOUNT)["status"] == "pending_new"


@pytest.mark.parametrize(("who", "scope", "target"), [
    ("trader", "firm", None),
    ("trader", "account", OTHER_ACCOUNT),
    ("trader", "trader", "trader"),
    ("compliance", "account", OTHER_ACCOUNT),
])  # fmt: skip
def test_engage_beyond_the_role_is_403(risk_data, who, scope, target):
    assert engage(client_for(who), scope, target).status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"scope": "galaxy", "reason": "x"}, "scope"),
    ({"scope": "account", "reason": "x"}, "target"),
    ({"scope": "venue", "target": "NOWHERE", "reason": "x"}, "target"),
    ({"scope": "account", "target": "NO-SUCH", "reason": "x"}, "target"),
    ({"scope": "account", "target": SWITCH_ACCOUNT}, "reason"),
    ({"scope": "trader", "target": "nobody-by-that-name", "reason": "x"}, "target"),
])  # fmt: skip
def test_bad_engage_is_400_naming_the_field(risk_api, body, field):
    response = risk_api.post("/api/v1/kill-switch/engage/", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content


def test_health_warns_of_an_active_instrument_without_reference(risk_data):
    response = APIClient().get("/api/v1/health/")
    assert any(SYMBOL in w and "no reference" in w for w in response.json()["warnings"])


# -- CLI ----------------------------------------------------------------------------------------


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("kill_switch", *args, stdout=out)
    return out.getvalue()


def test_cli_engages_shows_and_releases(risk_data, trader_api):
    text = run("engage", "--scope", "account", "--target", SWITCH_ACCOUNT, "--reason", "drill", "--as", "risk")
    assert f"account {SWITCH_ACCOUNT} kill switch engaged" in text
    assert f"ENGAGED  account {SWITCH_ACCOUNT}" in run("status")
    assert submit(trader_api, SWITCH_ACCOUNT)["reject_reason"] == "kill_switch"
    with pytest.raises(CommandError, match="only the risk role") as refused:
        run("release", "--scope", "account", "--target", SWITCH_ACCOUNT, "--reason", "mine", "--as", "trader")
    assert refused.value.returncode == 3
    assert "released" in run("release", "--scope", "account", "--target", SWITCH_ACCOUNT, "--reason", "done",
                             "--as", "risk")  # fmt: skip
    assert f"account {SWITCH_ACCOUNT}" not in run("status")


def test_cli_needs_a_reason_and_runs_as_its_own_process(risk_data):
    with pytest.raises(CommandError, match="--reason"):
        run("engage", "--scope", "firm", "--as", "risk")
    status = manage("kill_switch", "status")
    assert status.returncode == 0, status.stderr
    refused = manage("kill_switch", "release", "--reason", "x", "--as", "compliance")
    assert refused.returncode == 3 and "only the risk role" in refused.stderr


# -- admin ----------------------------------------------------------------------------------------


def admin_client(username: str):
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


LIMITS_FORM = {name: "" for name in ("max_order_qty", "max_order_notional", "max_position_qty",
                                     "max_gross_notional", "credit_limit", "max_messages_per_second")}  # fmt: skip


def test_admin_limit_change_goes_through_the_engine_with_its_reason(risk_data):
    from risk.models import AccountLimits

    client = admin_client("risk")
    row = AccountLimits.objects.filter(account_id=OTHER_ACCOUNT).first()
    url = f"/admin/risk/accountlimits/{row.pk}/change/" if row else "/admin/risk/accountlimits/add/"
    body = {**LIMITS_FORM, "account": OTHER_ACCOUNT, "max_order_notional": "12345", "reason": "admin change"}
    without_reason = client.post(url, {**body, "reason": ""})
    assert without_reason.status_code == 200 and b"This field is required" in without_reason.content
    response = client.post(url, body)
    assert response.status_code == 302, response.content[:2000]
    assert AccountLimits.objects.get(account_id=OTHER_ACCOUNT).max_order_notional == 12345
    event = Event.objects.filter(event_type="RiskLimitsChanged", payload__account=OTHER_ACCOUNT).latest("position")
    assert event.actor == "user:risk" and event.payload["reason"] == "admin change"


def test_admin_refuses_changes_to_compliance(risk_data):
    client = admin_client("compliance")
    assert client.get("/admin/risk/accountlimits/add/").status_code == 403
    assert client.get("/admin/risk/killswitch/").status_code == 200


def test_admin_engages_after_a_confirmation_naming_the_scope_then_releases(risk_data):
    client = admin_client("risk")
    form = {"scope": "account", "target": SWITCH_ACCOUNT, "reason": "admin drill"}
    confirm = client.post("/admin/risk/killswitch/engage/", form)
    assert confirm.status_code == 200 and f"the account {SWITCH_ACCOUNT} kill switch" in confirm.content.decode()
    assert (
        not services.kill_switch_get("account", SWITCH_ACCOUNT)
        or not services.kill_switch_get("account", SWITCH_ACCOUNT).engaged
    )
    engaged = client.post("/admin/risk/killswitch/engage/", {**form, "confirmed": "True"})
    assert engaged.status_code == 302
    switch = services.kill_switch_get("account", SWITCH_ACCOUNT)
    assert switch.engaged and switch.engaged_by == "user:risk"
    listing = client.get("/admin/risk/killswitch/").content.decode()
    assert SWITCH_ACCOUNT in listing and "Engage a kill switch" in listing
    released = client.post("/admin/risk/killswitch/release/", {**form, "reason": "over", "confirmed": "True"})
    assert released.status_code == 302
    assert not services.kill_switch_get("account", SWITCH_ACCOUNT).engaged


def test_admin_instrument_control_change_is_audited(risk_data):
    client = admin_client("risk")
    instrument = Instrument.objects.get(symbol=SYMBOL)
    url = f"/admin/orders/instrument/{instrument.pk}/change/"
    body = {"restricted": "", "price_band_pct": "3", "max_reference_age_s": "", "reason": ""}
    assert b"a reason is required" in client.post(url, body).content
    response = client.post(url, {**body, "reason": "tighter band"})
    assert response.status_code == 302, response.content[:2000]
    assert Instrument.objects.get(symbol=SYMBOL).price_band_pct == 3
    event = Event.objects.filter(event_type="InstrumentRiskChanged", payload__symbol=SYMBOL).latest("position")
    assert event.payload["reason"] == "tighter band"
    assert Instrument.objects.get(symbol=SYMBOL).description == instrument.description  # risk: controls only
