"""The REST edge's shortcuts keep the contract: order entry on the event loop reads nothing from the
database once its caches are warm and answers what a read of the projection would; a revoked token
stops working; list pages cost the same queries for 5 rows as for 50; the fast order
representation is OrderSerializer's, field for field."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from conftest import new_cl_ord_id
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders import edge
from orders.models import Account, Event, Fill, Instrument, Order, Position
from orders.serializers import OrderSerializer, order_representation

pytestmark = pytest.mark.usefixtures("engine")


def order_body(**overrides) -> dict:
    body = {"account": "DESK-EQ", "cl_ord_id": new_cl_ord_id("EDGE"), "symbol": "AAPL", "side": "buy",
            "quantity": "100", "order_type": "limit", "limit_price": "190.50", "time_in_force": "day"}  # fmt: skip
    return {**body, **overrides}


@pytest.fixture
def token_client(trader) -> tuple[APIClient, Token]:
    """A client that authenticates as API clients do, with a token (not force_authenticate)."""
    token, _ = Token.objects.get_or_create(user=trader)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client, token


def test_order_entry_reads_nothing_from_the_database_once_warm(token_client):
    client, _ = token_client
    assert client.post("/api/v1/orders/", order_body(), format="json").status_code == 201  # warms the caches
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/orders/", order_body(), format="json")
    assert response.status_code == 201, response.content
    assert [q["sql"] for q in queries.captured_queries] == []
    # what the engine's reply carried is what the projection holds
    assert response.json() == OrderSerializer(Order.objects.get(id=response.json()["id"])).data


def test_order_entry_refusals_from_the_cache_name_the_field(token_client):
    client, _ = token_client
    client.post("/api/v1/orders/", order_body(), format="json")
    with CaptureQueriesContext(connection) as queries:
        unknown = client.post("/api/v1/orders/", order_body(symbol="NOPE", venue="NOWHERE"), format="json")
        foreign = client.post("/api/v1/orders/", order_body(account="OUTSIDE"), format="json")
    assert unknown.status_code == 400 and foreign.status_code == 400
    assert unknown.json() == {"symbol": ["unknown symbol 'NOPE'"], "venue": ["unknown or inactive venue 'NOWHERE'"]}
    assert "not granted to you" in foreign.json()["account"][0]
    assert queries.captured_queries == []


def test_admin_changes_reach_the_cached_reference_data(token_client, trader):
    client, _ = token_client
    client.post("/api/v1/orders/", order_body(), format="json")  # warm
    Instrument.objects.create(symbol="EDGE1", tick_size=Decimal("0.01"), lot_size=Decimal(1))
    account = Account.objects.create(code="EDGE-ACC", name="granted just now")
    account.users.add(trader)
    lookups = edge.cache.lookups_for(trader)
    assert lookups.symbol_known("EDGE1") and lookups.may_trade("EDGE-ACC")
    account.active = False
    account.save()
    assert not edge.cache.lookups_for(trader).may_trade("EDGE-ACC")


def test_a_revoked_token_stops_working(token_client, trader, monkeypatch):
    client, token = token_client
    assert client.get("/api/v1/accounts/").status_code == 200
    token.delete()  # through the ORM: every worker forgets it at once
    assert client.get("/api/v1/accounts/").status_code == 401
    assert client.post("/api/v1/orders/", order_body(), format="json").status_code == 401

    # A change no signal tells of (another database client): seen once the entry is older than TOKEN_SECONDS.
    token = Token.objects.create(user=trader)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/accounts/").status_code == 200
    type(trader).objects.filter(pk=trader.pk).update(is_active=False)  # no signal
    later = time.monotonic() + edge.TOKEN_SECONDS + 0.01
    monkeypatch.setattr(edge.time, "monotonic", lambda: later)
    response = client.post("/api/v1/orders/", order_body(), format="json")
    assert response.status_code == 401 and "inactive" in response.json()["detail"]


def test_the_fast_order_representation_is_order_serializers(api):
    """Over every kind of order the log holds (rejected, pending a cancel, filled, parents, children...)."""
    api.post("/api/v1/orders/", order_body(limit_price="190.505"), format="json")  # rejected off the tick
    pending = api.post("/api/v1/orders/", order_body(), format="json").json()
    assert api.post(f"/api/v1/orders/{pending['id']}/cancel/", {}, format="json").status_code == 202
    orders = list(Order.objects.order_by("-id")[:2000])
    assert {o.status for o in orders} >= {"rejected", "pending_cancel"}
    for order in orders:
        assert order_representation(order) == OrderSerializer(order).data, order.id
    page = api.get("/api/v1/orders/", {"limit": 50}).json()["results"]
    assert page == [OrderSerializer(Order.objects.get(id=o["id"])).data for o in page]


# A 50-row page costs what a 5-row page costs: nothing is read per row.


def _rows(trader) -> None:
    """At least 50 visible rows of each listed kind, written in this test's transaction (rolled back)."""
    now = datetime.now(UTC)
    account = "DESK-EQ"
    base = 10**15 + int(time.time_ns() % 10**9) * 1000
    orders = [Order(id=base + i, account_id=account, cl_ord_id=f"Q-{i}", symbol="AAPL", side="buy", quantity=1,
                    order_type="market", time_in_force="day", status="new", version=1, trading_day=now.date(),
                    created_at=now, updated_at=now, created_at_ns=0, updated_at_ns=0) for i in range(50)]  # fmt: skip
    Order.objects.bulk_create(orders)
    Fill.objects.bulk_create(Fill(id=base + i, order_id=base + i, account_id=account, symbol="AAPL", side="buy",
                                  exec_id=f"Q-{i}", last_qty=1, last_px=1, executed_at=now)
                             for i in range(50))  # fmt: skip
    Position.objects.bulk_create(Position(account_id=account, symbol=f"Q{base}-{i}", updated_at=now) for i in range(50))
    Event.objects.bulk_create(Event(position=base + i, stream_type="test", stream_id=base + i, stream_version=1,
                                    event_type="Test", schema_version=1, payload={}, account=account, occurred_at_ns=0,
                                    recorded_at_ns=0, actor="test", command_id="test") for i in range(50))  # fmt: skip
    Instrument.objects.bulk_create(
        Instrument(symbol=f"Q{base % 10**8}-{i}", tick_size=1, lot_size=1) for i in range(50)
    )


@pytest.mark.parametrize(
    "path",
    ["/api/v1/orders/", "/api/v1/fills/", "/api/v1/positions/", "/api/v1/events/", "/api/v1/instruments/"],
)
def test_a_page_costs_the_same_queries_for_5_rows_as_for_50(api, trader, path):
    _rows(trader)
    assert api.get(path, {"limit": 50}).status_code == 200  # warm: permissions, caches

    def queries(limit: int) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = api.get(path, {"limit": limit})
        assert response.status_code == 200 and len(response.json()["results"]) == limit, response.content[:300]
        return [q["sql"] for q in captured.captured_queries]

    few, many = queries(5), queries(50)
    assert len(many) == len(few) <= 3, many


def test_a_deactivated_accounts_orders_may_be_canceled_not_replaced(api, trader):
    account = Account.objects.create(code="EDGE-OFF", name="soon inactive")
    account.users.add(trader)
    order = api.post("/api/v1/orders/", order_body(account="EDGE-OFF"), format="json").json()
    account.active = False
    account.save()  # the worker's cached grant follows at once
    replace = api.post(f"/api/v1/orders/{order['id']}/replace/", {"quantity": "50"}, format="json")
    assert replace.status_code == 403 and "may not replace" in replace.json()["detail"]
    # let through to the engine, which answers for itself (the account is this test's, uncommitted:
    # the engine rejected the order, so the cancel is too late)
    cancel = api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    assert cancel.status_code in (202, 409) and cancel.json().get("reason") != "account_not_allowed", cancel.json()
    account.users.remove(trader)
    assert api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json").status_code in (403, 404)
