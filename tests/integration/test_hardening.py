"""Inputs that once broke something: each must get a clear 4xx, and nothing may wedge the engine."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from conftest import new_cl_ord_id
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from orders import bus
from orders.domain import commands as cmd
from orders.domain.values import OrderType, Side, TimeInForce

pytestmark = pytest.mark.usefixtures("engine")


def body(**overrides) -> dict:
    return {"account": "DESK-EQ", "cl_ord_id": new_cl_ord_id(), "symbol": "AAPL", "side": "buy",
            "quantity": "10", "order_type": "limit", "limit_price": "190.00", **overrides}  # fmt: skip


def submit_command(cl_ord_id: str, actor: str = "test") -> cmd.SubmitOrder:
    return cmd.SubmitOrder(bus.new_command_id(), time.time_ns(), actor, "DESK-EQ", cl_ord_id, "AAPL", Side.BUY,
                           Decimal(10), OrderType.LIMIT, TimeInForce.DAY, Decimal("190.00"))  # fmt: skip


def test_a_command_the_database_refuses_is_dead_lettered_and_trading_goes_on(engine):
    """A poison command (here: a NUL in its actor, which PostgreSQL cannot store) fails its
    batch's commit. The engine must find it, answer it with an error, set it aside, and commit
    everything else, instead of retrying the same batch for ever."""
    client = bus.client()
    dead_before = client.xlen(bus.key("commands:dead")) if client.exists(bus.key("commands:dead")) else 0
    good, bad = new_cl_ord_id("G"), new_cl_ord_id("P")
    poison = bus.send(submit_command(bad, actor="user:evil\x00"), timeout=30)
    assert poison["outcome"] == "error" and poison["reason"] == "not_committable"
    assert bus.send(submit_command(good), timeout=30)["outcome"] == "accepted"
    assert client.xlen(bus.key("commands:dead")) == dead_before + 1
    assert bus.engine_health()["state"] == "live"


def test_deeply_nested_json_is_a_400_also_on_the_token_endpoint(api):
    deep = b"[" * 5000 + b"]" * 5000
    assert api.post("/api/v1/orders/", deep, content_type="application/json").status_code == 400
    assert APIClient().post("/api/v1/auth/token/", deep, content_type="application/json").status_code == 400


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/orders/?limit=9223372036854775808", 200),
        ("/api/v1/orders/?offset=9223372036854775808", 200),
        ("/api/v1/events/?cursor=cD1hYmM%3D", 404),  # base64 of "p=abc": not a position
        ("/api/v1/orders/?symbol=%00", 400),
        ("/api/v1/instruments/%00/", 400),
        ("/api/v1/orders/-1/", 404),
        ("/api/v1/no-such-thing/", 404),
    ],
)
def test_odd_urls_get_a_json_4xx_or_a_page_never_a_5xx(api, url, status):
    response = api.get(url)
    assert response.status_code == status, response.content[:200]
    assert response["Content-Type"].startswith("application/json")


def test_whitespace_around_a_cl_ord_id_is_refused_not_trimmed(api):
    response = api.post("/api/v1/orders/", body(cl_ord_id="ab\n"), format="json")
    assert response.status_code == 400 and "cl_ord_id" in response.json()


def test_a_cancel_may_not_reuse_the_orders_own_cl_ord_id(api):
    order = api.post("/api/v1/orders/", body(), format="json").json()
    response = api.post(f"/api/v1/orders/{order['id']}/cancel/", {"cl_ord_id": order["cl_ord_id"]}, format="json")
    assert response.status_code == 400 and response.json()["reason"] == "duplicate_cl_ord_id"
    assert api.get(f"/api/v1/orders/{order['id']}/").json()["status"] == "pending_new"


def test_a_new_order_may_not_reuse_a_cancel_requests_cl_ord_id(api):
    order = api.post("/api/v1/orders/", body(), format="json").json()
    request_id = new_cl_ord_id("X")
    assert (
        api.post(f"/api/v1/orders/{order['id']}/cancel/", {"cl_ord_id": request_id}, format="json").status_code == 202
    )
    response = api.post("/api/v1/orders/", body(cl_ord_id=request_id, symbol="MSFT"), format="json")
    assert response.status_code == 400 and response.json()["reason"] == "duplicate_cl_ord_id"


def test_absurd_sizes_are_refused_by_the_sanity_gate(api):
    order = api.post("/api/v1/orders/", body(quantity="9999999999999"), format="json").json()
    assert order["status"] == "rejected" and order["reject_reason"] == "quantity_too_large"


def test_compliance_sees_every_account_but_trades_none(api, db_ready):
    order = api.post("/api/v1/orders/", body(), format="json").json()
    compliance = APIClient()
    compliance.force_authenticate(get_user_model().objects.get(username="compliance"))
    assert compliance.get(f"/api/v1/orders/{order['id']}/").status_code == 200
    assert compliance.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json").status_code == 403
    refused = compliance.post("/api/v1/orders/", body(), format="json")
    assert refused.status_code == 400 and "account" in refused.json()


def test_a_lost_database_connection_is_retried_not_dead_lettered(engine):
    """Kill the engine's own PostgreSQL backend: the next command must still be committed,
    after the engine reconnects and recovers, and nothing may go to the dead-letter stream."""
    from django.db import connection as db

    from orders.engine import WRITER_LOCK_KEY

    client = bus.client()
    dead = bus.key("commands:dead")
    dead_before = client.xlen(dead) if client.exists(dead) else 0
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s",
            [WRITER_LOCK_KEY & 0xFFFFFFFF],
        )
        assert cursor.fetchone() == (True,)
    reply = bus.send(submit_command(new_cl_ord_id("R")), timeout=60)
    assert reply["outcome"] == "accepted", reply
    assert (client.xlen(dead) if client.exists(dead) else 0) == dead_before


def test_a_cancel_may_not_reuse_a_replace_requests_cl_ord_id(api):
    from fakevenue import ack

    order = api.post("/api/v1/orders/", body(), format="json").json()
    ack(order["id"])
    replace_id = new_cl_ord_id("RP")
    replaced = api.post(f"/api/v1/orders/{order['id']}/replace/", {"quantity": "20", "cl_ord_id": replace_id},
                        format="json")  # fmt: skip
    assert replaced.status_code == 202
    response = api.post(f"/api/v1/orders/{order['id']}/cancel/", {"cl_ord_id": replace_id}, format="json")
    assert response.status_code == 400 and response.json()["reason"] == "duplicate_cl_ord_id"
