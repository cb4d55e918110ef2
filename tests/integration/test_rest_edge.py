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


# The order page built by PostgreSQL (orders.pages) answers what DRF's list view answers.


def test_the_order_page_built_by_postgresql_is_drfs_page(api):
    """Every order the trader sees, and pages under every filter, through both paths: the body is
    the same JSON (`format=json` sends the request to DRF's OrderViewSet.list)."""
    api.post("/api/v1/orders/", order_body(limit_price="190.505"), format="json")  # rejected off the tick
    pending = api.post("/api/v1/orders/", order_body(), format="json").json()
    assert api.post(f"/api/v1/orders/{pending['id']}/cancel/", {}, format="json").status_code == 202
    day = pending["trading_day"]
    queries = [
        {"limit": 1000},
        {"limit": 50, "offset": 3},
        {"account": "DESK-EQ", "limit": 7, "offset": 7},
        {"status": ["rejected", "pending_cancel"], "side": "buy", "symbol": "AAPL"},
        {"cl_ord_id": pending["cl_ord_id"]},
        {"trading_day": day, "top_level": "true", "created_after": "2000-01-01T00:00:00Z"},
        {"top_level": "false", "parent": "1"},
        {"created_before": "2000-01-01T00:00:00Z"},
        {"limit": "x", "offset": "-1", "unknown": "ignored"},
        {"account": "OUTSIDE"},
    ]
    for query in queries:
        fast = api.get("/api/v1/orders/", query)
        drf = api.get("/api/v1/orders/", {**query, "format": "json"})
        assert fast.status_code == drf.status_code == 200, (query, fast.content[:300])
        body = fast.json()
        expected = drf.json()
        for link in ("next", "previous"):  # the same link, less DRF's format=json
            expected[link] = expected[link] and expected[link].replace("format=json&", "").replace("&format=json", "")
        assert body == expected, query
        for header in ("Content-Type", "Allow", "Vary"):
            assert fast[header] == drf[header], header
    everything = api.get("/api/v1/orders/", {"limit": 1000}).json()["results"]
    assert {o["status"] for o in everything} >= {"rejected", "pending_cancel"}
    shown = {o.id: OrderSerializer(o).data for o in Order.objects.filter(id__in=[o["id"] for o in everything])}
    assert everything == [shown[o["id"]] for o in everything]


@pytest.mark.parametrize(
    "query, field",
    [({"status": "bogus"}, "status"), ({"parent": "x"}, "parent"), ({"created_after": "yesterday"}, "created_after"),
     ({"side": "null"}, "side"), ({"trading_day": "2026-13-01"}, "trading_day")],
)  # fmt: skip
def test_a_refused_filter_value_is_drfs_400_naming_the_field(api, query, field):
    response = api.get("/api/v1/orders/", query)
    assert response.status_code == 400 and field in response.json(), response.content
    assert response.json() == api.get("/api/v1/orders/", {**query, "format": "json"}).json()


def test_the_order_page_is_one_statement(api, trader):
    _rows(trader)
    assert api.get("/api/v1/orders/", {"limit": 50}).status_code == 200  # warm: the cached grants

    def statements(limit: int) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = api.get("/api/v1/orders/", {"limit": limit, "account": "DESK-EQ"})
        assert response.status_code == 200 and len(response.json()["results"]) == limit
        return [q["sql"] for q in captured.captured_queries]

    assert len(statements(5)) == len(statements(50)) == 1


def test_the_servers_own_connections_read_the_same_page(trader):
    """In the web server the statement runs on the loop's own connection (pages.connect_on_loop):
    the same answer as through Django's, over what the engine committed."""
    import asyncio

    from venue_stack import committed

    from orders import pages

    visible = sorted(Account.objects.filter(users=trader).values_list("code", flat=True))
    sql = pages.page_sql("account_code = ANY(%s) AND status = ANY(%s)")
    params = [visible, ["new", "rejected", "pending_cancel", "canceled"]] * 2 + [200, 0]
    through_django = pages._fetch_through_django(sql, params)

    async def on_loop():
        try:
            first = await pages.fetch(sql, params)
            # a connection the server closes (a restart): the next page is read on another
            async with (await pages.pool()).connection() as conn:
                backend = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]
            await asyncio.to_thread(committed, "SELECT pg_terminate_backend(%s)", backend)
            return first, await pages.fetch(sql, params)
        finally:
            await pages.close_pool()

    pages.connect_on_loop()
    try:
        assert asyncio.run(on_loop()) == (through_django, through_django)
    finally:
        pages._on_loop = False
    assert through_django[1] > 0


def test_the_page_for_a_token_a_bad_token_and_none(token_client):
    client, _ = token_client
    fast = client.get("/api/v1/orders/", {"limit": 5}).json()
    drf = client.get("/api/v1/orders/", {"limit": 5, "format": "json"}).json()
    assert (fast["count"], fast["results"]) == (drf["count"], drf["results"]) and len(fast["results"]) == 5
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.get("/api/v1/orders/").status_code == 401
    assert APIClient().get("/api/v1/orders/").status_code == 401
    html = client.get("/api/v1/orders/", HTTP_ACCEPT="text/html")  # the browsable API: DRF's
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")


def test_the_kept_account_counts_are_the_orders_counted(api, trader):
    """orders_account_order_count (the page's `count` without counting) follows inserts, deletes
    and a change of account, statement by statement, as COUNT(*) would say."""

    def kept_and_counted() -> tuple[dict, dict]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT account_code, orders FROM orders_account_order_count WHERE orders <> 0")
            kept = dict(cursor.fetchall())
            cursor.execute("SELECT account_code, count(*) FROM orders_order GROUP BY account_code")
            return kept, dict(cursor.fetchall())

    api.post("/api/v1/orders/", order_body(), format="json")  # through the engine's commit
    kept, counted = kept_and_counted()
    assert kept == counted and counted
    _rows(trader)  # 50 orders of DESK-EQ in one statement
    Order.objects.filter(cl_ord_id="Q-1", account_id="DESK-EQ").update(account_id="EDGE-MOVED")
    Order.objects.filter(cl_ord_id__in=["Q-2", "Q-3"], account_id="DESK-EQ").delete()
    kept, counted = kept_and_counted()
    assert kept == counted and counted["EDGE-MOVED"] == 1
    fast = api.get("/api/v1/orders/", {"account": "DESK-EQ", "limit": 1}).json()
    drf = api.get("/api/v1/orders/", {"account": "DESK-EQ", "limit": 1, "format": "json"}).json()
    assert fast["count"] == counted["DESK-EQ"] == drf["count"]


def test_serializers_sharing_a_field_template_each_read_their_own_context():
    """FieldsBuiltOnce: fields (a nested serializer's too) answer for the instance using them."""
    from orders.serializers import OrderCreateSerializer

    body = order_body(routing={"strategy": "direct", "venue": "V1"})
    del body["account"]
    open_v1 = edge.Lookups(frozenset({"AAPL"}), frozenset({"V1"}), {"A1": True})
    closed_v1 = edge.Lookups(frozenset({"AAPL"}), frozenset(), {"A2": True})
    first = OrderCreateSerializer(data={**body, "account": "A1"}, context={"lookups": open_v1})
    assert first.is_valid(), first.errors
    second = OrderCreateSerializer(data={**body, "account": "A1"}, context={"lookups": closed_v1})
    assert not second.is_valid()
    assert set(second.errors) == {"account", "routing"} and "venue" in second.errors["routing"]
    again = OrderCreateSerializer(data={**body, "account": "A1"}, context={"lookups": open_v1})
    assert again.is_valid(), again.errors


def test_the_page_for_a_browser_session(trader, outsider):
    """The blotter's way in: a logged-in session, JSON asked; the page shows the granted accounts only."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    outsider = get_user_model().objects.get(username="outsider")
    browser = Client()
    browser.force_login(outsider)
    fast = browser.get("/api/v1/orders/", {"limit": 1000}, HTTP_ACCEPT="application/json")
    drf = browser.get("/api/v1/orders/", {"limit": 1000, "format": "json"})
    assert fast.status_code == 200 and fast["Content-Type"] == "application/json"
    assert (fast.json()["count"], fast.json()["results"]) == (drf.json()["count"], drf.json()["results"])
    granted = set(Account.objects.filter(users=outsider).values_list("code", flat=True))
    assert {o["account"] for o in fast.json()["results"]} <= granted
