"""The REST order flow of CONTRACT.md against a real engine, PostgreSQL and Valkey."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import new_cl_ord_id
from fakevenue import ack, cancel_reject, fill

from orders.domain.values import ExecType

pytestmark = pytest.mark.usefixtures("engine")


def order_body(**overrides) -> dict:
    body = {
        "account": "DESK-EQ",
        "cl_ord_id": new_cl_ord_id(),
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "100",
        "order_type": "limit",
        "limit_price": "190.50",
        "time_in_force": "day",
    }
    body.update(overrides)
    return body


def submit(api, **overrides) -> dict:
    response = api.post("/api/v1/orders/", order_body(**overrides), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_submit_returns_the_order_pending_new_with_decimal_strings(api):
    body = order_body()
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201
    order = response.json()
    assert order["status"] == "pending_new"
    assert order["cl_ord_id"] == body["cl_ord_id"]
    assert order["account"] == "DESK-EQ"
    assert Decimal(order["quantity"]) == 100 and isinstance(order["quantity"], str)
    assert Decimal(order["limit_price"]) == Decimal("190.50")
    assert Decimal(order["leaves_qty"]) == 100 and Decimal(order["cum_qty"]) == 0
    assert order["created_at"]


def test_same_cl_ord_id_returns_the_existing_order(api):
    body = order_body()
    first = api.post("/api/v1/orders/", body, format="json")
    again = api.post("/api/v1/orders/", {**body, "quantity": "5"}, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Decimal(again.json()["quantity"]) == 100  # the original, not the retry's
    assert api.get("/api/v1/orders/", {"cl_ord_id": body["cl_ord_id"]}).json()["count"] == 1


def test_price_off_the_tick_is_recorded_as_a_risk_rejection(api):
    order = submit(api, limit_price="190.505")
    assert order["status"] == "rejected"
    assert order["reject_reason"] == "price_not_on_tick"
    assert "tick" in order["text"]
    events = api.get(f"/api/v1/orders/{order['id']}/events/").json()
    assert [e["event_type"] for e in events] == ["OrderRejected"]


def test_quantity_off_the_lot_is_rejected(api):
    order = submit(api, symbol="VOD.L", quantity="150", limit_price="72.02")
    assert order["reject_reason"] == "quantity_not_on_lot"


@pytest.mark.parametrize(
    ("overrides", "field", "phrase"),
    [
        ({"quantity": "-5"}, "quantity", "positive"),
        ({"quantity": "0"}, "quantity", "positive"),
        ({"quantity": "abc"}, "quantity", "valid number"),
        ({"symbol": "NOPE"}, "symbol", "unknown symbol"),
        ({"account": "NOT-MINE"}, "account", "not granted"),
        ({"side": "sideways"}, "side", "not a valid choice"),
        ({"order_type": "stop"}, "order_type", "not a valid choice"),
        ({"time_in_force": "forever"}, "time_in_force", "not a valid choice"),
        ({"limit_price": None}, "limit_price", "needs a limit_price"),
        ({"order_type": "market"}, "limit_price", "takes no limit_price"),
        ({"limit_price": "-1"}, "limit_price", "positive"),
        ({"cl_ord_id": "has space"}, "cl_ord_id", "printable"),
        ({"cl_ord_id": "x" * 65}, "cl_ord_id", "64"),
        ({"quantity": "1" * 30}, "quantity", "digits"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, overrides, field, phrase):
    response = api.post("/api/v1/orders/", order_body(**overrides), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors
    assert phrase in " ".join(errors[field])


def test_missing_fields_are_each_named(api):
    response = api.post("/api/v1/orders/", {}, format="json")
    assert response.status_code == 400
    assert {"account", "cl_ord_id", "symbol", "side", "quantity", "order_type"} <= set(response.json())


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2, 3]", b'"a string"', b"\xff\xfe", b"null"],
)
def test_malformed_bodies_are_400(api, raw):
    response = api.post("/api/v1/orders/", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()


def test_oversized_body_is_refused_without_a_5xx(api):
    response = api.post("/api/v1/orders/", order_body(text="x" * 200_000), format="json")
    assert 400 <= response.status_code < 500


def test_unauthenticated_requests_are_401():
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/orders/").status_code == 401


def test_another_users_order_is_404(api, outsider):
    order = submit(api)
    assert outsider.get(f"/api/v1/orders/{order['id']}/").status_code == 404
    assert outsider.get(f"/api/v1/orders/{order['id']}/events/").status_code == 404
    assert outsider.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json").status_code == 404
    assert outsider.post(f"/api/v1/orders/{order['id']}/replace/", {"quantity": "5"}, format="json").status_code == 404
    assert order["id"] not in [o["id"] for o in outsider.get("/api/v1/orders/").json()["results"]]
    assert outsider.get("/api/v1/events/", {"order": order["id"]}).json()["results"] == []


def test_huge_or_odd_ids_are_404_not_500(api):
    assert api.get("/api/v1/orders/99999999999999999999999/").status_code == 404
    assert api.get("/api/v1/orders/abc/").status_code == 404
    assert api.get("/api/v1/orders/", {"created_after": "yesterday"}).status_code == 400
    assert api.get("/api/v1/orders/", {"status": "bogus"}).status_code == 400


def test_list_filters_by_status_symbol_side_and_account(api):
    tag = new_cl_ord_id("F")
    buy = submit(api, cl_ord_id=f"{tag}-1", symbol="MSFT", limit_price="400.00")
    sell = submit(api, cl_ord_id=f"{tag}-2", symbol="MSFT", side="sell", limit_price="401.00", account="DESK-ARB")
    rejected = submit(api, cl_ord_id=f"{tag}-3", symbol="MSFT", limit_price="400.001")

    def ids(**params) -> set[int]:
        response = api.get("/api/v1/orders/", {"symbol": "MSFT", "limit": 1000, **params})
        assert response.status_code == 200
        return {o["id"] for o in response.json()["results"]}

    assert {buy["id"], sell["id"], rejected["id"]} <= ids()
    assert sell["id"] in ids(side="sell") and buy["id"] not in ids(side="sell")
    assert rejected["id"] in ids(status="rejected") and buy["id"] not in ids(status="rejected")
    assert sell["id"] in ids(account="DESK-ARB") and buy["id"] not in ids(account="DESK-ARB")
    assert ids(cl_ord_id=f"{tag}-1") == {buy["id"]}


def test_fills_move_the_order_fills_and_position(api):
    account = "DESK-ARB"
    order = submit(api, account=account, symbol="NVDA", quantity="300", limit_price="120.00")
    before = api.get("/api/v1/positions/", {"account": account, "symbol": "NVDA"}).json()["results"]
    held = Decimal(before[0]["quantity"]) if before else Decimal(0)
    assert ack(order["id"])["outcome"] == "accepted"
    assert fill(order["id"], "100", "119.90")["outcome"] == "accepted"
    assert fill(order["id"], "200", "120.00")["outcome"] == "accepted"
    shown = api.get(f"/api/v1/orders/{order['id']}/").json()
    assert shown["status"] == "filled"
    assert Decimal(shown["cum_qty"]) == 300 and Decimal(shown["leaves_qty"]) == 0
    assert Decimal(shown["avg_px"]) == Decimal("119.96666667")  # (100 x 119.90 + 200 x 120.00) / 300, to 8 dp
    fills = api.get("/api/v1/fills/", {"order": order["id"]}).json()["results"]
    assert sorted(Decimal(f["last_qty"]) for f in fills) == [100, 200]
    after = api.get("/api/v1/positions/", {"account": account, "symbol": "NVDA"}).json()["results"]
    assert Decimal(after[0]["quantity"]) == held + 300


def test_repeated_exec_id_changes_nothing(api):
    order = submit(api, quantity="100")
    assert fill(order["id"], "40", "190.00", exec_id=f"DUP-{order['id']}")["outcome"] == "accepted"
    assert fill(order["id"], "40", "190.00", exec_id=f"DUP-{order['id']}")["outcome"] == "no_change"
    shown = api.get(f"/api/v1/orders/{order['id']}/").json()
    assert Decimal(shown["cum_qty"]) == 40
    assert len(api.get("/api/v1/fills/", {"order": order["id"]}).json()["results"]) == 1


def test_overfill_is_refused_and_recorded_as_an_anomaly(api):
    order = submit(api, quantity="100")
    fill(order["id"], "60", "190.00")
    answer = fill(order["id"], "60", "190.00")
    assert answer["outcome"] == "anomaly" and answer["reason"] == "overfill"
    shown = api.get(f"/api/v1/orders/{order['id']}/").json()
    assert Decimal(shown["cum_qty"]) == 60 and shown["anomalies"] == 1
    types = [e["event_type"] for e in api.get(f"/api/v1/orders/{order['id']}/events/").json()]
    assert types[-1] == "ExecutionAnomalyRecorded"


def test_cancel_is_accepted_as_pending_then_confirmed(api):
    order = submit(api)
    ack(order["id"])
    response = api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "pending_cancel"
    from fakevenue import canceled

    canceled(order["id"])
    assert api.get(f"/api/v1/orders/{order['id']}/").json()["status"] == "canceled"


def test_cancel_after_fill_is_rejected_too_late_with_409(api):
    order = submit(api, quantity="10")
    fill(order["id"], "10", "190.00")
    response = api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["reason"] == "too_late_to_cancel"
    assert "too late to cancel" in response.json()["detail"]
    types = [e["event_type"] for e in api.get(f"/api/v1/orders/{order['id']}/events/").json()]
    assert types[-1] == "OrderCancelRejected"


def test_fill_racing_a_cancel_is_booked_and_the_venue_reject_restores_the_order(api):
    order = submit(api, quantity="100")
    ack(order["id"])
    pending = api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json").json()
    assert pending["status"] == "pending_cancel"
    fill(order["id"], "30", "190.00")
    mid = api.get(f"/api/v1/orders/{order['id']}/").json()
    assert mid["status"] == "pending_cancel" and Decimal(mid["cum_qty"]) == 30
    cancel_reject(order["id"], pending["pending"]["cl_ord_id"], "venue_refused")
    after = api.get(f"/api/v1/orders/{order['id']}/").json()
    assert after["status"] == "partially_filled" and after["pending"] is None


def test_replace_changes_quantity_once_the_venue_applies_it(api):
    order = submit(api, quantity="100")
    ack(order["id"])
    response = api.post(
        f"/api/v1/orders/{order['id']}/replace/", {"quantity": "150", "limit_price": "191.00"}, format="json"
    )
    assert response.status_code == 202
    pending = response.json()
    assert pending["status"] == "pending_replace"
    from fakevenue import report

    report(order["id"], ExecType.REPLACED, cl_ord_id=pending["pending"]["cl_ord_id"])
    shown = api.get(f"/api/v1/orders/{order['id']}/").json()
    assert shown["status"] == "new"
    assert Decimal(shown["quantity"]) == 150 and Decimal(shown["limit_price"]) == Decimal("191.00")
    assert shown["cl_ord_id"] == pending["pending"]["cl_ord_id"]


def test_replace_below_cum_qty_is_refused_naming_quantity(api):
    order = submit(api, quantity="100")
    fill(order["id"], "60", "190.00")
    response = api.post(f"/api/v1/orders/{order['id']}/replace/", {"quantity": "50"}, format="json")
    assert response.status_code == 400
    assert response.json()["reason"] == "quantity_below_cum_qty"
    assert "quantity" in response.json()


def test_replace_of_a_done_order_is_409(api):
    order = submit(api, limit_price="190.001")  # rejected at entry
    response = api.post(f"/api/v1/orders/{order['id']}/replace/", {"quantity": "5"}, format="json")
    assert response.status_code == 409
    assert response.json()["reason"] == "too_late_to_replace"


def test_replace_needs_something_to_change(api):
    order = submit(api)
    response = api.post(f"/api/v1/orders/{order['id']}/replace/", {}, format="json")
    assert response.status_code == 400


def test_audit_log_is_cursor_paginated_in_position_order(api):
    for _ in range(3):
        submit(api)
    first = api.get("/api/v1/events/", {"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert len(page["results"]) == 2 and page["next"]
    positions = [e["position"] for e in page["results"]]
    second = api.get(page["next"]).json()
    assert positions == sorted(positions)
    assert second["results"][0]["position"] > positions[-1]
    event = page["results"][0]
    assert {"event_type", "payload", "schema_version", "actor", "command_id", "occurred_at_ns"} <= set(event)


def test_instruments_and_accounts_are_listed(api, outsider):
    symbols = {i["symbol"]: i for i in api.get("/api/v1/instruments/").json()["results"]}
    assert symbols["AAPL"]["tick_size"] == "0.01" or Decimal(symbols["AAPL"]["tick_size"]) == Decimal("0.01")
    codes = {a["code"] for a in api.get("/api/v1/accounts/").json()["results"]}
    assert {"DESK-EQ", "DESK-ARB"} <= codes and "OUTSIDE" not in codes
    assert {a["code"] for a in outsider.get("/api/v1/accounts/").json()["results"]} == {"OUTSIDE"}


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/orders/" in schema.json()["paths"]
    docs = api.get("/api/v1/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_health_is_200_with_every_component_ok(api):
    response = api.get("/api/v1/health/")
    assert response.status_code == 200
    components = response.json()["components"]
    assert components == {"database": "ok", "redis": "ok", "engine": "ok", "venue:HELD": "ok", "reconciliation": "ok"}
