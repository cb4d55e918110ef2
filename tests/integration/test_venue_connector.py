"""Orders out to simulated venues and back, over real FIX on loopback: REST -> engine -> log ->
connector -> run_venue, and execution reports back through the engine into the projections."""

from __future__ import annotations

import random
import shutil
import signal
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import new_cl_ord_id
from fixclient import FixClient
from venue_stack import (
    LOG_DIR,
    Connector,
    Simulator,
    committed,
    counterparty,
    inject,
    manage,
    reference_prices,
    status_is,
    wait_order,
)

from orders import venue_feed
from orders.models import Checkpoint, Event, Fill, Instrument, Order, Position
from venues.models import Venue

VAR: Path = LOG_DIR  # var/test: the connector's and the simulators' FIX stores and logs


@dataclass
class Stack:
    liquid: Simulator  # market makers quote every instrument
    liquid2: Simulator  # other makers: other prices, other depth
    quiet: Simulator  # an empty book: only what the tests put there trades
    flaky: Simulator  # stopped and started by the tests
    connector: Connector
    cpty: FixClient  # a counterparty on the quiet venue


@pytest.fixture(scope="module")
def stack(engine_process, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        simulators = [
            Simulator("TLIQ", "--seed", "11", "--step-ms", "200"),
            Simulator("TLIQ2", "--seed", "12", "--step-ms", "200", "--spread-ticks", "4", "--levels", "2"),
            Simulator("TQUIET", "--no-liquidity"),
            Simulator("TFLAKY", "--no-liquidity"),
        ]
        for sim in simulators:
            sim.start()
            Venue.objects.update_or_create(
                name=sim.name, defaults={"port": sim.port, "target_comp_id": sim.name, "active": True}
            )
        # An instrument the OMS knows and the running venues have never heard of.
        Instrument.objects.get_or_create(symbol="ZNEW", defaults={"tick_size": "0.01", "lot_size": "1"})
        # Its reference, as the pre-trade checks need one: a last trade quoted on HELD (logged on).
        venue_feed.publish_book("HELD", "ZNEW", [], [], last=Decimal(10))
        connector = Connector([s.name for s in simulators], resync_seconds=3)
        connector.start()
        connector.wait_logged_on()
        cpty = counterparty(simulators[2], tmp_path_factory.mktemp("cpty"))
        try:
            yield Stack(*simulators, connector, cpty)
        finally:
            cpty.stop()
            connector.stop()
            for sim in simulators:
                sim.stop()
            Venue.objects.filter(name__in=[s.name for s in simulators]).update(active=False)


def submit(api, venue: str | None, **fields) -> dict:
    body = {
        "account": "DESK-EQ", "cl_ord_id": new_cl_ord_id("V"), "symbol": "AMZN", "side": "buy", "quantity": "100",
        "order_type": "limit", "limit_price": "50.00", "time_in_force": "day", **fields,
    }  # fmt: skip
    if venue is not None:
        body["venue"] = venue
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def sell(cpty: FixClient, symbol: str, quantity: str, price: str) -> str:
    """The counterparty sells IOC: it trades with what rests and leaves nothing behind."""
    cl_ord_id = f"C-{uuid.uuid4().hex[:10]}"
    cpty.send("D", {11: cl_ord_id, 55: symbol, 54: "2", 38: quantity, 40: "2", 44: price, 59: "3"})
    return cl_ord_id


def event_types(order_id: int) -> list[str]:
    return list(Event.objects.filter(stream_id=order_id).order_by("position").values_list("event_type", flat=True))


def test_limit_order_is_acknowledged_partially_filled_then_filled_and_the_position_moves(api, stack):
    position = Position.objects.filter(account_id="DESK-EQ", symbol="AMZN").first()
    held = position.quantity if position else Decimal(0)
    order = submit(api, stack.quiet.name, quantity="100", limit_price="50.00")
    assert order["status"] == "pending_new" and order["venue"] == stack.quiet.name
    wait_order(order["id"], status_is("new"))
    sell(stack.cpty, "AMZN", "40", "50.00")
    partial = wait_order(order["id"], status_is("partially_filled"))
    assert partial.cum_qty == 40 and partial.leaves_qty == 60
    sell(stack.cpty, "AMZN", "60", "49.00")  # trades at the resting order's price
    filled = wait_order(order["id"], status_is("filled"))
    assert filled.cum_qty == 100 and filled.leaves_qty == 0 and filled.avg_px == Decimal("50")
    fills = list(Fill.objects.filter(order_id=order["id"]).order_by("id").values_list("last_qty", "last_px"))
    assert fills == [(Decimal(40), Decimal(50)), (Decimal(60), Decimal(50))]
    assert Position.objects.get(account_id="DESK-EQ", symbol="AMZN").quantity == held + 100
    assert event_types(order["id"]) == [
        "OrderAccepted", "OrderAcknowledged", "OrderPartiallyFilled", "OrderFilled",
    ]  # fmt: skip


def test_cancel_reaches_the_venue_and_the_order_ends_canceled(api, stack):
    order = submit(api, stack.quiet.name, symbol="MSFT", quantity="10", limit_price="20.00")
    wait_order(order["id"], status_is("new"))
    response = api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    assert response.status_code == 202, response.content
    wait_order(order["id"], status_is("canceled"))
    sell(stack.cpty, "MSFT", "10", "20.00")  # nothing rests there any more
    time.sleep(0.5)
    assert Order.objects.get(id=order["id"]).cum_qty == 0
    assert event_types(order["id"])[-2:] == ["OrderCancelRequested", "OrderCanceled"]


def test_replace_resizes_and_reprices_at_the_venue(api, stack):
    order = submit(api, stack.quiet.name, symbol="NVDA", quantity="10", limit_price="21.00")
    wait_order(order["id"], status_is("new"))
    response = api.post(f"/api/v1/orders/{order['id']}/replace/", {"quantity": "15", "limit_price": "21.5"},
                        format="json")  # fmt: skip
    assert response.status_code == 202, response.content
    replaced = wait_order(order["id"], lambda o: o.status == "new" and o.quantity == 15)
    assert replaced.limit_price == Decimal("21.5") and replaced.cl_ord_id == response.json()["pending"]["cl_ord_id"]
    sell(stack.cpty, "NVDA", "15", "21.50")
    filled = wait_order(order["id"], status_is("filled"))
    assert filled.cum_qty == 15 and filled.avg_px == Decimal("21.5")


def test_cancel_racing_a_fill_ends_consistent_with_the_venue(api, stack):
    order = submit(api, stack.quiet.name, symbol="TSLA", quantity="10", limit_price="22.00")
    wait_order(order["id"], status_is("new"))
    sell(stack.cpty, "TSLA", "10", "22.00")
    api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    done = wait_order(order["id"], status_is("filled", "canceled"))
    time.sleep(0.5)  # let any trailing report land
    done = Order.objects.get(id=order["id"])
    if done.status == "filled":
        assert done.cum_qty == 10 and done.pending_kind == ""
    else:
        assert done.cum_qty == 0
    assert done.anomalies == 0


def test_ioc_remainder_expires(api, stack):
    order = submit(api, stack.quiet.name, symbol="SPY", quantity="10", limit_price="1.00", time_in_force="ioc")
    expired = wait_order(order["id"], status_is("expired", "canceled"))
    assert expired.status == "expired" and expired.cum_qty == 0


def test_market_order_fills_against_the_market_makers(api, stack):
    order = submit(api, stack.liquid.name, symbol="AAPL", quantity="5", order_type="market", limit_price=None)
    filled = wait_order(order["id"], status_is("filled", "expired"))
    assert filled.status == "filled" and filled.cum_qty == 5 and filled.avg_px > 0


def test_a_venue_reject_is_booked_with_its_text(api, stack):
    order = submit(api, stack.quiet.name, symbol="ZNEW", quantity="10", limit_price="10.00")
    rejected = wait_order(order["id"], status_is("rejected"))
    assert rejected.reject_reason == "venue_rejected" and "ZNEW" in rejected.text


def test_market_data_becomes_the_engines_reference_prices(api, stack):
    reference = reference_prices(["AAPL"])["AAPL"]
    assert Decimal(100) < reference < Decimal(300)
    shown = api.get("/api/v1/instruments/").json()["results"]
    aapl = next(i for i in shown if i["symbol"] == "AAPL")
    bid, ask = Decimal(aapl["bid"]), Decimal(aapl["ask"])
    assert aapl["reference_source"] == "mid"
    # The mid of the best over both venues (two independent simulators can cross each other)
    assert Decimal(aapl["reference_price"]) == (bid + ask) / 2
    assert aapl["reference_price_at"] and 0 <= aapl["reference_age_s"] < 30


def parent(api, **fields) -> dict:
    return submit(api, None, **fields)


def children_of(parent_id: int) -> list[Order]:
    return list(Order.objects.filter(parent_id=parent_id).order_by("id"))


def test_parent_in_equal_slices_fills_through_its_children_and_rolls_up(api, stack):
    position = Position.objects.filter(account_id="DESK-EQ", symbol="NVDA").first()
    held = position.quantity if position else Decimal(0)
    routing = {"strategy": "slices", "slices": 2, "venues": [stack.quiet.name]}
    order = parent(api, symbol="NVDA", quantity="100", limit_price="30.00", routing=routing)
    assert order["strategy"] == "slices" and order["venue"] == "" and order["parent"] is None
    kids = children_of(order["id"])
    assert [(k.venue, k.quantity) for k in kids] == [(stack.quiet.name, 50), (stack.quiet.name, 50)]
    for kid in kids:
        wait_order(kid.id, status_is("new"))
    wait_order(order["id"], status_is("new"))
    sell(stack.cpty, "NVDA", "70", "30.00")
    partial = wait_order(order["id"], lambda o: o.cum_qty == 70)
    assert partial.status == "partially_filled" and partial.leaves_qty == 30
    assert [k.status for k in children_of(order["id"])] == ["filled", "partially_filled"]
    sell(stack.cpty, "NVDA", "30", "30.00")
    filled = wait_order(order["id"], status_is("filled"))
    assert filled.cum_qty == 100 and filled.avg_px == Decimal(30)
    listed = api.get("/api/v1/orders/", {"parent": order["id"]}).json()["results"]
    assert sorted(o["id"] for o in listed) == [k.id for k in kids]
    assert not Fill.objects.filter(order_id=order["id"]).exists()  # booked once, on the children
    shown = api.get("/api/v1/fills/", {"order": order["id"]}).json()["results"]
    assert sum(Decimal(f["last_qty"]) for f in shown) == 100  # a parent's fills are its children's
    top = api.get("/api/v1/orders/", {"top_level": "true", "strategy": "slices", "limit": 1000}).json()["results"]
    assert order["id"] in {o["id"] for o in top} and not {k.id for k in kids} & {o["id"] for o in top}
    refused = api.post(f"/api/v1/orders/{kids[0].id}/cancel/", {}, format="json")
    assert refused.status_code == 409 and refused.json()["reason"] == "child_order"
    body = {"account": "DESK-EQ", "cl_ord_id": kids[0].cl_ord_id, "symbol": "NVDA", "side": "buy", "quantity": "1",
            "order_type": "market"}  # fmt: skip
    taken = api.post("/api/v1/orders/", body, format="json")
    assert taken.status_code == 400 and "already used" in str(taken.json()), taken.content  # a child's ClOrdID
    assert Position.objects.get(account_id="DESK-EQ", symbol="NVDA").quantity == held + 100
    routed = Event.objects.get(stream_id=order["id"], event_type="OrderRouted")
    assert routed.payload["strategy"] == "slices" and len(routed.payload["children"]) == 2


@pytest.mark.parametrize(
    ("routing", "field"),
    [
        ({"strategy": "split", "venue": "TLIQ"}, "venue"),
        ({"strategy": "split", "slices": 3}, "slices"),
        ({"strategy": "split", "speed": "fast"}, "speed"),
        ({"strategy": "direct", "venue": "TLIQ", "venues": ["TLIQ2"]}, "venues"),
        ({"strategy": "slices"}, "slices"),
        ({"strategy": "twap"}, "strategy"),
        ({"strategy": "split", "venues": ["NOWHERE"]}, "venues"),
    ],
)
def test_a_routing_instruction_that_makes_no_sense_is_refused_naming_the_field(api, stack, routing, field):
    body = {"account": "DESK-EQ", "cl_ord_id": new_cl_ord_id("V"), "symbol": "AAPL", "side": "buy",
            "quantity": "10", "order_type": "limit", "limit_price": "10.00", "routing": routing}  # fmt: skip
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 400 and field in response.json()["routing"], response.content


def test_a_fill_or_kill_parent_is_not_split(api, stack):
    venues = [stack.liquid.name, stack.liquid2.name]
    order = parent(api, symbol="AAPL", quantity="10", limit_price="10.00", time_in_force="fok",
                   routing={"strategy": "slices", "slices": 2, "venues": venues})  # fmt: skip
    assert order["status"] == "rejected" and order["reject_reason"] == "fok_needs_one_child"


def test_cancelling_a_parent_cancels_its_live_children(api, stack):
    routing = {"strategy": "slices", "slices": 2, "venues": [stack.quiet.name]}
    order = parent(api, symbol="TSLA", quantity="40", limit_price="31.00", routing=routing)
    kids = children_of(order["id"])
    for kid in kids:
        wait_order(kid.id, status_is("new"))
    sell(stack.cpty, "TSLA", "10", "31.00")
    wait_order(order["id"], lambda o: o.cum_qty == 10)
    response = api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    assert response.status_code == 202, response.content
    canceled = wait_order(order["id"], status_is("canceled"))
    assert canceled.cum_qty == 10
    assert [k.status for k in children_of(order["id"])] == ["canceled", "canceled"]


def test_replacing_a_parent_resizes_and_reprices_its_children(api, stack):
    routing = {"strategy": "slices", "slices": 2, "venues": [stack.quiet.name]}
    order = parent(api, symbol="SPY", quantity="40", limit_price="32.00", routing=routing)
    for kid in children_of(order["id"]):
        wait_order(kid.id, status_is("new"))
    response = api.post(f"/api/v1/orders/{order['id']}/replace/", {"quantity": "30", "limit_price": "32.5"},
                        format="json")  # fmt: skip
    assert response.status_code == 202, response.content
    first, second = children_of(order["id"])
    wait_order(second.id, lambda o: o.status == "new" and o.quantity == 10 and o.limit_price == Decimal("32.5"))
    wait_order(first.id, lambda o: o.status == "new" and o.quantity == 20 and o.limit_price == Decimal("32.5"))
    shown = api.get(f"/api/v1/orders/{order['id']}/").json()
    assert shown["quantity"] == "30" and shown["limit_price"] == "32.5"
    sell(stack.cpty, "SPY", "40", "32.50")
    filled = wait_order(order["id"], status_is("filled"))
    assert filled.cum_qty == 30 and filled.avg_px == Decimal("32.5")


def test_parent_split_by_displayed_liquidity_across_both_venues(api, stack):
    venues = [stack.liquid.name, stack.liquid2.name]
    deadline = time.monotonic() + 20
    while len(venue_feed.read_books(venues, "MSFT")) < 2:  # both venues' books are in
        assert time.monotonic() < deadline, "no market data from the venues"
        time.sleep(0.2)
    order = parent(api, symbol="MSFT", quantity="60", order_type="market", limit_price=None,
                   routing={"strategy": "split", "venues": venues})  # fmt: skip
    kids = children_of(order["id"])
    assert {k.venue for k in kids} == set(venues), Event.objects.get(
        stream_id=order["id"], event_type="OrderRouted").payload  # fmt: skip
    done = wait_order(order["id"], status_is("filled", "expired", "canceled"))
    kids = children_of(order["id"])
    assert done.cum_qty == sum(k.cum_qty for k in kids) and done.cum_qty > 0
    notional = sum(k.cum_qty * k.avg_px for k in kids)
    assert abs(done.avg_px - notional / done.cum_qty) < Decimal("0.00000001")


def test_after_a_random_session_the_oms_positions_equal_the_venues_reports(api, stack):
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    venues = [stack.liquid.name, stack.liquid2.name]
    symbols = ["AAPL", "MSFT", "AMZN"]
    prices = reference_prices(symbols)
    orders = []
    for _ in range(40):
        symbol, side = rng.choice(symbols), rng.choice(["buy", "sell"])
        fields = {"symbol": symbol, "side": side, "quantity": str(rng.randint(1, 30))}
        if rng.random() < 0.4:
            fields |= {"order_type": "market", "limit_price": None}
        else:  # around the market: some cross, some rest
            offset = Decimal(rng.randint(-5, 5)) / 100
            fields |= {"limit_price": str((prices[symbol] + offset).quantize(Decimal("0.01")))}
        if rng.random() < 0.2:
            routing = rng.choice([{"strategy": "split"}, {"strategy": "slices", "slices": 2}]) | {"venues": venues}
            order = parent(api, routing=routing, **fields)
        else:
            order = submit(api, rng.choice(venues), **fields)
        orders.append(order["id"])
        if rng.random() < 0.2:
            api.post(f"/api/v1/orders/{rng.choice(orders)}/cancel/", {}, format="json")
    time.sleep(1)
    for order_id in orders:  # take down what still rests
        if Order.objects.get(id=order_id).status not in ("filled", "canceled", "expired", "rejected"):
            api.post(f"/api/v1/orders/{order_id}/cancel/", {}, format="json")
    for order_id in orders:
        wait_order(order_id, status_is("filled", "canceled", "expired", "rejected"))
    assert sum(Order.objects.filter(id__in=orders).values_list("anomalies", flat=True)) == 0, f"seed {seed}"
    result = manage("reconcile_venues", *[a for v in venues for a in ("--venue", v)])
    assert result.returncode == 0, f"seed {seed}: {result.stdout}{result.stderr}"
    assert result.stdout.count("positions match") == 2


@pytest.fixture
def faults(stack):
    """Faults on the OMS's session at the quiet venue, for one test; none afterwards."""
    yield lambda **knobs: inject(stack.quiet.name, **knobs)
    inject(stack.quiet.name)


def test_a_fill_after_an_acknowledged_cancel_is_booked(api, stack, faults):
    faults(fill_after_cancel=True)
    order = submit(api, stack.quiet.name, symbol="AMZN", quantity="10", limit_price="26.00")
    wait_order(order["id"], status_is("new"))
    api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    late = wait_order(order["id"], lambda o: o.cum_qty == 10)
    assert late.status == "filled" and late.anomalies == 0  # the late fill completed it
    assert event_types(order["id"])[-2:] == ["OrderCanceled", "OrderFilled"]


def test_a_trade_the_venue_busts_comes_off_the_order_the_fills_and_the_position(api, stack, faults):
    position = Position.objects.filter(account_id="DESK-EQ", symbol="MSFT").first()
    held = position.quantity if position else Decimal(0)
    faults(bust_next_fill=True)
    order = submit(api, stack.quiet.name, symbol="MSFT", quantity="10", limit_price="21.00")
    wait_order(order["id"], status_is("new"))

    sell(stack.cpty, "MSFT", "10", "21.00")  # fills it; the venue busts the trade straight after

    busted = wait_order(order["id"], status_is("canceled"))  # 39=4: this venue does not reinstate it
    assert (busted.cum_qty, busted.leaves_qty, busted.anomalies) == (0, 0, 0)
    assert event_types(order["id"])[-3:] == ["OrderFilled", "FillBusted", "OrderCanceled"]
    assert list(Fill.objects.filter(order_id=order["id"]).values_list("amendment", flat=True)) == ["busted"]
    assert Position.objects.get(account_id="DESK-EQ", symbol="MSFT").quantity == held
    result = manage("reconcile_venues", "--venue", stack.quiet.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_duplicated_execution_reports_are_booked_once(api, stack, faults):
    faults(duplicate_exec_reports=True)
    order = submit(api, stack.quiet.name, symbol="MSFT", quantity="10", limit_price="27.00")
    wait_order(order["id"], status_is("new"))
    sell(stack.cpty, "MSFT", "4", "27.00")
    sell(stack.cpty, "MSFT", "6", "27.00")
    wait_order(order["id"], status_is("filled"))
    time.sleep(0.5)  # the copies have arrived too
    assert Fill.objects.filter(order_id=order["id"]).count() == 2
    assert Order.objects.get(id=order["id"]).cum_qty == 10


def test_dropped_execution_reports_are_recovered_by_the_status_resync(api, stack, faults):
    faults(drop_exec_reports=2, symbol="NVDA")  # the ack and the fill never arrive
    order = submit(api, stack.quiet.name, symbol="NVDA", quantity="10", limit_price="28.00")
    time.sleep(0.5)
    sell(stack.cpty, "NVDA", "10", "28.00")
    filled = wait_order(order["id"], status_is("filled"), timeout=30)
    assert filled.cum_qty == 10 and filled.avg_px == Decimal(28) and filled.anomalies == 0
    fill = Fill.objects.get(order_id=order["id"])
    assert fill.exec_id.startswith(f"{stack.quiet.name}:status:")  # booked from the venue's totals


def test_a_venue_that_rejects_everything_rejects_the_order_with_its_text(api, stack, faults):
    faults(reject_all=True)
    order = submit(api, stack.quiet.name, symbol="TSLA", quantity="10", limit_price="29.00")
    rejected = wait_order(order["id"], status_is("rejected"))
    assert rejected.reject_reason == "venue_rejected" and "fault injection" in rejected.text


def test_a_fill_while_the_session_is_down_is_booked_after_it_reconnects(api, stack, faults):
    order = submit(api, stack.quiet.name, symbol="SPY", quantity="10", limit_price="33.00")
    wait_order(order["id"], status_is("new"))
    faults(disconnect=True)
    deadline = time.monotonic() + 10
    while venue_feed.read([stack.quiet.name])[stack.quiet.name]["state"] == venue_feed.LOGGED_ON:
        assert time.monotonic() < deadline, "the venue did not drop the session"
        time.sleep(0.02)
    sell(stack.cpty, "SPY", "10", "33.00")  # trades while the OMS is not there to hear it
    stack.connector.wait_logged_on(stack.quiet.name)
    filled = wait_order(order["id"], status_is("filled"), timeout=30)
    assert filled.cum_qty == 10 and filled.anomalies == 0


def seqnums(store: Path, sender: str, target: str) -> tuple[int, int]:
    """A quickfix FileStore's (next MsgSeqNum to send, next expected) for one session."""
    sent, _, expected = (store / f"FIX.4.4-{sender}-{target}.seqnums").read_text().partition(":")
    return int(sent), int(expected)


def connector_seqnums(venue: str) -> tuple[int, int]:
    return seqnums(VAR / "connector" / "store", "OMS", venue)


def venue_seqnums(venue: str) -> tuple[int, int]:
    return seqnums(VAR / "venues" / venue / "store", venue, "OMS")


def wait_down(venue: str) -> None:
    deadline = time.monotonic() + 15
    while venue_feed.read([venue])[venue]["state"] == venue_feed.LOGGED_ON:
        assert time.monotonic() < deadline, f"the session to {venue} did not go down"
        time.sleep(0.05)


def test_a_fill_while_the_connector_is_away_reaches_the_oms_through_the_fix_resend(api, stack):
    """The venue keeps its day's messages: after the connector's logon it resends the report the
    OMS missed (ResendRequest, PossDupFlag=Y). The status resync is an hour off: not it."""
    order = submit(api, stack.quiet.name, symbol="AAPL", quantity="10", limit_price="34.00")
    wait_order(order["id"], status_is("new"))
    stack.connector.stop()
    stack.connector.resync_seconds = 3600
    try:
        sold = sell(stack.cpty, "AAPL", "10", "34.00")  # the venue's report to the OMS waits in its store
        stack.cpty.receive_until(lambda m: m.get(11) == sold and m.get(150) == "F")  # it traded
        assert Order.objects.get(id=order["id"]).status == "new"
        stack.connector.start()
        stack.connector.wait_logged_on()
        filled = wait_order(order["id"], status_is("filled"), timeout=5)
        assert filled.cum_qty == 10 and filled.avg_px == Decimal(34) and filled.anomalies == 0
        fill = Fill.objects.get(order_id=order["id"])
        assert ":status:" not in fill.exec_id  # the venue's own report, not a status answer
        log = (VAR / "connector" / "log" / f"FIX.4.4-OMS-{stack.quiet.name}.messages.current.log").read_text()
        resent = [line for line in log.splitlines() if "\x0143=Y\x01" in line and "\x0135=8\x01" in line]
        assert any(f"\x0117={fill.exec_id.split(':', 1)[1]}\x01" in line for line in resent), resent[-3:]
    finally:
        stack.connector.stop()
        stack.connector.resync_seconds = 3
        stack.connector.start()
        stack.connector.wait_logged_on()


def test_a_venue_restarted_within_the_day_keeps_its_sequence_numbers(api, stack):
    venue = stack.flaky.name
    order = submit(api, venue, symbol="MSFT", quantity="5", limit_price="35.00")  # some traffic first
    wait_order(order["id"], status_is("new"))
    stack.flaky.stop()
    wait_down(venue)
    ours, theirs = connector_seqnums(venue), venue_seqnums(venue)
    assert min(*ours, *theirs) > 2, (ours, theirs)
    stack.flaky.start()
    stack.connector.wait_logged_on(venue)
    ours_after = connector_seqnums(venue)
    assert ours_after[0] > ours[0] and ours_after[1] > ours[1], (ours, ours_after)  # continued, not reset
    log = (VAR / "connector" / "log" / f"FIX.4.4-OMS-{venue}.messages.current.log").read_text()
    logons = [line for line in log.splitlines() if "\x0135=A\x01" in line]
    assert f"\x0134={theirs[0]}\x01" in logons[-1] and "\x01141=Y" not in logons[-1], logons[-2:]


def test_a_venue_that_lost_its_sequence_numbers_is_logged_on_again_with_a_reset(api, stack):
    """A wiped store on one side: the numbers cannot agree, so the connector logs on with
    ResetSeqNumFlag (141=Y) rather than being refused for ever as "MsgSeqNum too low"."""
    venue = stack.flaky.name
    stack.flaky.stop()
    wait_down(venue)
    shutil.rmtree(VAR / "venues" / venue / "store")
    stack.flaky.start()
    stack.connector.wait_logged_on(venue, timeout=30)
    order = submit(api, venue, symbol="MSFT", quantity="5", limit_price="36.00")
    wait_order(order["id"], status_is("new"))
    log = (VAR / "connector" / "log" / f"FIX.4.4-OMS-{venue}.messages.current.log").read_text()
    ours = [line for line in log.splitlines() if "\x0135=A\x01" in line and "\x0149=OMS\x01" in line]
    assert "\x0134=1\x01" in ours[-1] and "\x01141=Y\x01" in ours[-1], ours[-2:]


def test_connector_killed_after_the_commit_sends_the_order_once_when_it_is_back(api, stack):
    stack.connector.kill()  # its session state lives on for a moment: the engine still accepts
    order = submit(api, stack.quiet.name, symbol="AMZN", quantity="10", limit_price="23.00")
    assert order["status"] == "pending_new"
    stack.connector.start()
    stack.connector.wait_logged_on()
    wait_order(order["id"], status_is("new"))
    sold = sell(stack.cpty, "AMZN", "20", "23.00")  # two copies at the venue would both trade
    filled = wait_order(order["id"], status_is("filled"))
    time.sleep(1)
    assert Order.objects.get(id=order["id"]).cum_qty == 10 and filled.anomalies == 0
    reports = stack.cpty.receive_until(lambda m: m.get(11) == sold and m.get(150) in ("4", "C"), timeout=10)
    assert sum(Decimal(m[32]) for m in reports if m.get(11) == sold and m.get(150) == "F") == 10


def test_resending_what_the_venue_already_has_changes_nothing(api, stack):
    """A crash after the send and before the checkpoint: everything since is sent again."""
    order = submit(api, stack.quiet.name, symbol="MSFT", quantity="10", limit_price="24.00")
    wait_order(order["id"], status_is("new"))
    api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    wait_order(order["id"], status_is("canceled"))
    stack.connector.stop()
    first = Event.objects.filter(stream_id=order["id"]).order_by("position").first()
    committed("UPDATE orders_checkpoint SET position = %s WHERE name = %s", first.position - 1,
              f"venue:{stack.quiet.name}")  # fmt: skip
    before = event_types(order["id"])
    stack.connector.start()
    stack.connector.wait_logged_on()
    deadline = time.monotonic() + 20
    while Checkpoint.objects.get(name=f"venue:{stack.quiet.name}").position < first.position:
        assert time.monotonic() < deadline, "the connector did not catch up"
        time.sleep(0.1)
    time.sleep(1)
    assert event_types(order["id"]) == before
    assert Order.objects.get(id=order["id"]).anomalies == 0


def test_disconnected_venue_fails_closed_and_a_lost_order_becomes_an_anomaly(api, stack):
    resting = submit(api, stack.flaky.name, symbol="AAPL", quantity="10", limit_price="25.00")
    wait_order(resting["id"], status_is("new"))
    routing = {"strategy": "slices", "slices": 2, "venues": [stack.flaky.name, stack.quiet.name]}
    sliced = parent(api, symbol="MSFT", quantity="40", limit_price="25.00", routing=routing)
    for kid in children_of(sliced["id"]):
        wait_order(kid.id, status_is("new"))
    stack.flaky.stop()
    deadline = time.monotonic() + 15
    while venue_feed.read([stack.flaky.name])[stack.flaky.name]["state"] == venue_feed.LOGGED_ON:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.3)  # the engine reads session states at most 0.2 s old
    response = api.post("/api/v1/orders/", {
        "account": "DESK-EQ", "cl_ord_id": new_cl_ord_id("V"), "symbol": "AAPL", "side": "buy", "quantity": "1",
        "order_type": "limit", "limit_price": "25.00", "venue": stack.flaky.name,
    }, format="json")  # fmt: skip
    refused = response.json()
    assert refused["status"] == "rejected" and refused["reject_reason"] == "venue_unavailable"
    assert stack.flaky.name in refused["text"]
    health = api.get("/api/v1/health/")
    assert health.status_code == 503 and health.json()["components"][f"venue:{stack.flaky.name}"] != "ok"
    # While it stays down the connector tries less and less often, and says so.
    deadline = time.monotonic() + 30
    while "reconnecting in 2s" not in (detail := venue_feed.read([stack.flaky.name])[stack.flaky.name]["detail"]):
        assert time.monotonic() < deadline, detail
        time.sleep(0.2)
    assert "not connected" in api.get("/api/v1/health/").json()["components"][f"venue:{stack.flaky.name}"]
    # The venue comes back having lost its day (--fresh: empty books; its FIX sequence numbers
    # it keeps): it has lost the resting order. The resync finds out and says so, and the order
    # stops counting as working.
    stack.flaky.start(fresh=True)
    stack.connector.wait_logged_on(stack.flaky.name)
    lost = wait_order(resting["id"], status_is("canceled"))
    assert lost.anomalies == 1
    anomaly = Event.objects.get(stream_id=resting["id"], event_type="ExecutionAnomalyRecorded")
    assert anomaly.payload["reason"] == "unknown_at_venue" and lost.text == anomaly.payload["text"]
    # The sliced parent's child there is lost too: the parent says so and places it again
    # at the venue still working.
    deadline = time.monotonic() + 20
    while len(kids := children_of(sliced["id"])) < 3:
        assert time.monotonic() < deadline, [(k.venue, k.status) for k in kids]
        time.sleep(0.1)
    first, second, again = kids
    assert (first.venue, first.quantity, first.status) == (stack.flaky.name, 20, "canceled")
    assert (second.venue, second.quantity) == (again.venue, again.quantity) == (stack.quiet.name, 20)
    wait_order(again.id, status_is("new"))  # placed again where the parent still works
    routed = Event.objects.filter(stream_id=sliced["id"], event_type="OrderRouted").order_by("position")
    assert routed.count() == 2 and "re-routing the 20" in routed.last().payload["text"]
    shown = Order.objects.get(id=sliced["id"])
    assert shown.status == "new" and shown.leaves_qty == 40 and "child" in shown.text
    assert stack.flaky.process is not None and stack.flaky.process.poll() is None
    stack.flaky.process.send_signal(signal.SIGCONT)


def test_a_venue_made_inactive_is_let_go_without_touching_the_others(api, stack):
    others = [stack.liquid.name, stack.liquid2.name, stack.quiet.name]
    pid = stack.connector.process.pid
    committed("UPDATE venues_venue SET active = false WHERE name = %s", stack.flaky.name)
    try:
        deadline = time.monotonic() + 20
        while venue_feed.read([stack.flaky.name])[stack.flaky.name]["state"] == venue_feed.LOGGED_ON:
            assert time.monotonic() < deadline, "the connector kept the inactive venue's session"
            for state in venue_feed.read(others).values():
                assert state["state"] == venue_feed.LOGGED_ON, state  # the others never blink
            time.sleep(0.1)
        assert stack.connector.process.poll() is None and stack.connector.process.pid == pid  # no restart
        assert f"venue:{stack.flaky.name}" not in api.get("/api/v1/health/").json()["components"]
    finally:
        committed("UPDATE venues_venue SET active = true WHERE name = %s", stack.flaky.name)
    # Switched on again: that takes a restart (under `make run` the respawn wrapper does it).
    stack.connector.process.wait(timeout=30)
    stack.connector.start()
    stack.connector.wait_logged_on()
