"""Recovery rules through the real engine, bus and PostgreSQL: busts and corrections reach the
fills and positions (live and rebuilt alike), the ClOrdIDs the OMS makes never take one a client
used, and a retried submission belongs to the day it was first sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from conftest import new_cl_ord_id
from fakevenue import ack, fill, report

from orders import bus, rebuild
from orders.domain import commands as cmd
from orders.domain.values import ExecType, OrderType, Side, TimeInForce
from orders.models import ClOrdIdClaim, Fill, Order, Position

pytestmark = pytest.mark.usefixtures("engine")

D = Decimal


def submit(api, **fields) -> dict:
    body = {
        "account": "DESK-EQ", "cl_ord_id": new_cl_ord_id("B"), "symbol": "NVDA", "side": "buy", "quantity": "100",
        "order_type": "limit", "limit_price": "30.00", "time_in_force": "day", **fields,
    }  # fmt: skip
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def held() -> Decimal:
    position = Position.objects.filter(account_id="DESK-EQ", symbol="NVDA").first()
    return position.quantity if position else D(0)


def test_a_busted_fill_leaves_the_order_the_fills_and_the_position_as_if_it_never_happened(api):
    before = held()
    order = submit(api)
    ack(order["id"])
    first, second = new_cl_ord_id("E"), new_cl_ord_id("E")
    fill(order["id"], "40", "30.00", exec_id=first)
    fill(order["id"], "60", "29.90", exec_id=second)
    assert held() == before + 100

    answer = report(order["id"], ExecType.TRADE_CANCEL, exec_id=new_cl_ord_id("E"), ref_exec_id=second,
                    text="erroneous trade")  # fmt: skip

    assert answer["outcome"] == "accepted", answer
    busted = Order.objects.get(id=order["id"])
    assert (busted.status, busted.cum_qty, busted.avg_px) == ("partially_filled", 40, D("30"))
    assert Fill.objects.get(order_id=order["id"], exec_id=second).amendment == "busted"
    assert held() == before + 40
    assert rebuild.verify()[1] == []


def test_a_corrected_fill_amends_the_fill_row_and_the_position(api):
    before = held()
    order = submit(api, quantity="50")
    exec_id = new_cl_ord_id("E")
    fill(order["id"], "50", "30.00", exec_id=exec_id)

    answer = report(order["id"], ExecType.TRADE_CORRECT, "45", "30.05", exec_id=new_cl_ord_id("E"),
                    ref_exec_id=exec_id)  # fmt: skip

    assert answer["outcome"] == "accepted", answer
    corrected = Fill.objects.get(order_id=order["id"], exec_id=exec_id)
    assert (corrected.amendment, corrected.last_qty, corrected.last_px) == ("corrected", 45, D("30.05"))
    assert Order.objects.get(id=order["id"]).status == "partially_filled"  # 45 of 50 now
    assert held() == before + 45
    assert rebuild.verify()[1] == []
    for batch_size in (1, 7):  # positions agree to the last digit whatever the batch boundaries
        assert rebuild.verify(batch_size=batch_size)[1] == []


def test_a_bust_of_a_fill_the_order_never_had_is_an_anomaly_not_an_error(api):
    order = submit(api, quantity="10")

    answer = report(order["id"], ExecType.TRADE_CANCEL, exec_id=new_cl_ord_id("E"), ref_exec_id="NO-SUCH-FILL")

    assert (answer["outcome"], answer["reason"]) == ("anomaly", "bust_of_unknown_fill")
    assert Order.objects.get(id=order["id"]).anomalies == 1


def test_a_child_never_takes_a_cl_ord_id_the_client_already_used_today(api):
    parent_cl_ord_id = new_cl_ord_id("P")
    client_order = submit(api, cl_ord_id=f"{parent_cl_ord_id}.1", quantity="5")  # what child 1 would be called

    parent = submit(api, cl_ord_id=parent_cl_ord_id, quantity="20", routing={"strategy": "direct", "venue": "HELD"})

    (child,) = Order.objects.filter(parent_id=parent["id"])
    assert child.cl_ord_id == f"{parent_cl_ord_id}.1~2"
    claims = dict(ClOrdIdClaim.objects.filter(account_code="DESK-EQ").values_list("cl_ord_id", "order_id"))
    assert claims[f"{parent_cl_ord_id}.1"] == client_order["id"] and claims[child.cl_ord_id] == child.id
    # ...and a client sending the child's ClOrdID is told it is taken
    response = api.post("/api/v1/orders/", {
        "account": "DESK-EQ", "cl_ord_id": child.cl_ord_id, "symbol": "NVDA", "side": "buy", "quantity": "1",
        "order_type": "limit", "limit_price": "30.00",
    }, format="json")  # fmt: skip
    assert (response.status_code, response.json()["reason"]) == (400, "duplicate_cl_ord_id")


def submission(cl_ord_id: str, at: datetime) -> cmd.SubmitOrder:
    return cmd.SubmitOrder(
        command_id=bus.new_command_id(), received_at_ns=int(at.timestamp() * 1e9), actor="test", account="DESK-EQ",
        cl_ord_id=cl_ord_id, symbol="NVDA", side=Side.BUY, quantity=D(1), order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY, limit_price=D("30.00"),
    )  # fmt: skip


def test_a_retry_that_arrives_after_the_day_rolled_is_the_same_submission_not_a_second_order():
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    cl_ord_id = new_cl_ord_id("R")
    first = bus.send(submission(cl_ord_id, today - timedelta(seconds=1)))  # one second before midnight
    assert first["outcome"] == "accepted", first

    retried = bus.send(submission(cl_ord_id, today + timedelta(seconds=2)))  # its retry, two seconds after

    assert (retried["outcome"], retried["order_id"]) == ("duplicate", first["order_id"])


def test_the_same_cl_ord_id_long_after_the_day_rolled_is_a_new_order():
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    cl_ord_id = new_cl_ord_id("R")
    first = bus.send(submission(cl_ord_id, today - timedelta(minutes=1)))
    assert first["outcome"] == "accepted", first

    later = bus.send(submission(cl_ord_id, today + timedelta(minutes=20)))  # well past any retry

    assert later["outcome"] == "accepted" and later["order_id"] != first["order_id"]
