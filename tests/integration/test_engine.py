"""The engine as a process: single writer, idempotent under concurrency, durable across kill -9."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from conftest import BASE_DIR, engine_database_url, new_cl_ord_id

from orders import bus, rebuild
from orders.domain import commands as cmd
from orders.domain.values import OrderType, Side, TimeInForce
from orders.models import Order


def submit_command(cl_ord_id: str, account: str = "DESK-EQ") -> cmd.SubmitOrder:
    return cmd.SubmitOrder(
        command_id=bus.new_command_id(),
        received_at_ns=time.time_ns(),
        actor="test",
        account=account,
        cl_ord_id=cl_ord_id,
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(10),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        limit_price=Decimal("190.00"),
    )


def test_fifty_concurrent_identical_submissions_make_one_order(api, engine):
    body = {
        "account": "DESK-EQ",
        "cl_ord_id": new_cl_ord_id("C"),
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "10",
        "order_type": "limit",
        "limit_price": "190.00",
    }
    barrier = threading.Barrier(50)

    def send(_: int) -> tuple[int, int]:
        from django.db import connection

        try:
            barrier.wait()
            response = api.post("/api/v1/orders/", body, format="json")
            return response.status_code, response.json()["id"]
        finally:
            connection.close()  # each thread has its own; leave none open at teardown

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(send, range(50)))
    assert len({order_id for _, order_id in results}) == 1
    assert sorted(code for code, _ in results) == [200] * 49 + [201]
    assert Order.objects.filter(cl_ord_id=body["cl_ord_id"], account_id="DESK-EQ").count() == 1


def test_a_second_engine_refuses_to_start_and_says_why(engine):
    env = {**os.environ, "DATABASE_URL": engine_database_url()}
    second = subprocess.run(
        [sys.executable, "manage.py", "run_engine"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode != 0
    assert "another engine holds the writer lock" in second.stderr
    assert bus.engine_health()["pid"] == engine.process.pid  # the first one is untouched


def test_a_standby_engine_takes_over_when_the_first_stops(engine):
    env = {**os.environ, "DATABASE_URL": engine_database_url(), "PYTHONUNBUFFERED": "1"}
    standby = subprocess.Popen(
        [sys.executable, "manage.py", "run_engine", "--standby"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.5)
        assert standby.poll() is None
        assert bus.engine_health()["pid"] == engine.process.pid
        engine.stop()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            health = bus.engine_health()
            if health and health["pid"] == standby.pid and health["state"] == "live":
                break
            time.sleep(0.1)
        else:
            pytest.fail("the standby engine did not take over")
        assert bus.send(submit_command(new_cl_ord_id("S")))["outcome"] == "accepted"
    finally:
        standby.terminate()
        standby.wait(timeout=30)


def test_no_answer_in_time_is_engine_unavailable_and_the_retry_is_safe(api, engine):
    engine.stop()
    body = {
        "account": "DESK-EQ",
        "cl_ord_id": new_cl_ord_id("U"),
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "10",
        "order_type": "limit",
        "limit_price": "190.00",
    }
    from django.test import override_settings

    with override_settings(OMS_ENGINE_REPLY_TIMEOUT=0.5):
        response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 503
    assert "engine unavailable" in response.json()["detail"]
    assert api.get("/api/v1/health/").status_code == 503
    engine.start()
    retry = api.post("/api/v1/orders/", body, format="json")
    assert retry.status_code == 201  # the stale first attempt expired unprocessed; the retry made the order
    assert Order.objects.filter(cl_ord_id=body["cl_ord_id"]).count() == 1


@pytest.mark.slow
def test_kill_9_during_a_burst_loses_no_acknowledged_order_and_duplicates_none(engine):
    tag = new_cl_ord_id("K")
    cl_ord_ids = [f"{tag}-{i}" for i in range(1000)]
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()
    some_acknowledged = threading.Event()

    def send(cl_ord_id: str) -> None:
        try:
            reply = bus.send(submit_command(cl_ord_id), timeout=0.5)
        except bus.EngineUnavailable:
            return
        with lock:
            acknowledged[cl_ord_id] = reply["order_id"]
            if len(acknowledged) >= 100:
                some_acknowledged.set()

    def kill_mid_burst() -> None:
        some_acknowledged.wait(timeout=30)
        engine.kill()

    killer = threading.Thread(target=kill_mid_burst)
    killer.start()
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(send, cl_ord_ids))
    killer.join()
    assert 0 < len(acknowledged) < len(cl_ord_ids), "the kill should land mid-burst"

    engine.start()
    # Every client retries what it got no answer for, with the same ClOrdID.
    for cl_ord_id in cl_ord_ids:
        reply = bus.send(submit_command(cl_ord_id), timeout=10)
        if cl_ord_id in acknowledged:
            assert reply == {**reply, "outcome": "duplicate", "order_id": acknowledged[cl_ord_id]}
    rows = Order.objects.filter(cl_ord_id__startswith=tag, account_id="DESK-EQ")
    assert rows.count() == len(cl_ord_ids)
    assert len(set(rows.values_list("cl_ord_id", flat=True))) == len(cl_ord_ids)
    for cl_ord_id, order_id in acknowledged.items():
        assert rows.get(cl_ord_id=cl_ord_id).id == order_id
    replayed, differences = rebuild.verify()
    assert replayed > 0
    assert [d.describe() for d in differences] == []
