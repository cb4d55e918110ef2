"""The blotter's websocket at the socket: the consumer on the real channel layer (Valkey), the
feed as its own process (`run_blotter_feed`), the engine committing orders. What a user receives
is checked message by message: only their accounts, every change once per position, nothing
missed across a reconnect or a feed restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from conftest import BASE_DIR, engine_database_url, new_cl_ord_id
from django.contrib.auth import get_user_model
from venue_stack import LOG_DIR, committed

from blotter import snapshot
from blotter.consumers import BlotterConsumer
from oms_project.asgi import application
from orders import bus
from orders.domain import commands as cmd
from orders.domain.values import OrderType, Side, TimeInForce


class FeedProcess:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": engine_database_url(), "PYTHONUNBUFFERED": "1"}
        log = open(LOG_DIR / "blotter-feed.log", "a")
        self.process = subprocess.Popen([sys.executable, "manage.py", "run_blotter_feed"], cwd=BASE_DIR, env=env,
                                        stdout=log, stderr=log)  # fmt: skip
        time.sleep(2)  # it starts at the end of the log; orders placed before that are the consumers' to read

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def feed(engine_process):
    process = FeedProcess()
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def lone_trader(db_ready):
    """A trader granted only DESK-ARB, committed for the consumer's own connection to see."""
    username = f"lone-{uuid.uuid4().hex[:6]}"
    committed("INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active, first_name, last_name,"
              " email, date_joined) VALUES (%s, '!', false, false, true, '', '', '', now())", username)  # fmt: skip
    committed("INSERT INTO orders_account_users (account_id, user_id) SELECT a.id, u.id FROM orders_account a,"
              " auth_user u WHERE a.code = 'DESK-ARB' AND u.username = %s", username)  # fmt: skip
    return get_user_model().objects.get(username=username)


def submit(account: str, quantity: str = "10") -> dict[str, Any]:
    command = cmd.SubmitOrder(
        command_id=bus.new_command_id(), received_at_ns=time.time_ns(), actor="test", account=account,
        cl_ord_id=new_cl_ord_id("B"), symbol="AAPL", side=Side.BUY, quantity=Decimal(quantity),
        order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY, limit_price=Decimal("99"),
    )  # fmt: skip
    answer = bus.send(command, timeout=10)
    assert answer["outcome"] == "accepted", answer
    return answer


class Socket:
    """A consumer as a browser would hold it, for one user; collects every message it sends."""

    def __init__(self, user: Any, after: int | None = None) -> None:
        path = "/ws/blotter/" + (f"?after={after}" if after is not None else "")
        self.communicator = WebsocketCommunicator(BlotterConsumer.as_asgi(), path)
        self.communicator.scope["user"] = user
        self.messages: list[dict[str, Any]] = []

    async def open(self) -> None:
        connected, _ = await self.communicator.connect(timeout=20)
        assert connected

    async def close(self) -> None:
        await self.communicator.disconnect()

    async def until(self, predicate, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages:
                if predicate(message):
                    return message
            remaining = deadline - time.monotonic()
            try:
                received = await self.communicator.receive_json_from(timeout=max(0.01, remaining))
            except TimeoutError:
                raise AssertionError(f"not received; got {[m['type'] for m in self.messages]}") from None
            self.messages += received if isinstance(received, list) else [received]

    def orders(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "order"]


def order_message(order_id: int, status: str | None = None):
    return lambda m: m["type"] == "order" and m["order"]["id"] == order_id and status in (None, m["order"]["status"])


def run(scenario) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=120))


def test_an_unauthenticated_connect_is_closed():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/blotter/", headers=[(b"origin", b"http://127.0.0.1")])
        connected, code = await communicator.connect(timeout=10)
        assert not connected and code == 4401

    run(scenario)


def test_a_connect_from_another_sites_page_is_refused(trader):
    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/blotter/", headers=[(b"origin", b"https://evil.example")]
        )
        connected, _ = await communicator.connect(timeout=10)
        assert not connected

    run(scenario)


def test_a_user_gets_a_snapshot_then_live_changes_of_their_accounts_only(feed, lone_trader):
    async def scenario():
        socket = Socket(lone_trader)
        await socket.open()
        hello = await socket.until(lambda m: m["type"] == "hello")
        assert hello["user"]["accounts"] == ["DESK-ARB"] and not hello["user"]["sees_all"]
        snapshot = await socket.until(lambda m: m["type"] == "snapshot")
        assert {o["account"] for o in snapshot["orders"]} <= {"DESK-ARB"}
        theirs = await asyncio.to_thread(submit, "DESK-ARB")
        other = await asyncio.to_thread(submit, "DESK-EQ")
        message = await socket.until(order_message(theirs["order_id"]))
        assert message["position"] > snapshot["position"] and message["order"]["status"] == "pending_new"
        await socket.until(lambda m: m["type"] == "heartbeat" and m["position"] >= message["position"])
        await asyncio.sleep(1)
        assert {m["order"]["account"] for m in socket.orders()} == {"DESK-ARB"}
        assert other["order_id"] not in {m["order"]["id"] for m in socket.orders()}
        await socket.close()

    run(scenario)


def test_a_risk_user_sees_every_account(feed):
    risk = get_user_model().objects.get(username="risk")

    async def scenario():
        socket = Socket(risk)
        await socket.open()
        hello = await socket.until(lambda m: m["type"] == "hello")
        assert hello["user"]["sees_all"] and hello["user"]["may_release"]
        await socket.until(lambda m: m["type"] == "snapshot")
        orders = [await asyncio.to_thread(submit, account) for account in ("DESK-ARB", "DESK-EQ", "CLIENT-1")]
        for answer in orders:
            await socket.until(order_message(answer["order_id"]))
        await socket.until(lambda m: m["type"] == "market" and any(i["symbol"] == "AAPL" for i in m["instruments"]))
        await socket.until(lambda m: m["type"] == "usage")
        await socket.close()

    run(scenario)


def test_a_reconnect_after_a_position_gets_every_change_since_then_once(feed, lone_trader):
    async def scenario():
        socket = Socket(lone_trader)
        await socket.open()
        snapshot = await socket.until(lambda m: m["type"] == "snapshot")
        await socket.close()
        missed = [await asyncio.to_thread(submit, "DESK-ARB") for _ in range(3)]
        await asyncio.to_thread(submit, "DESK-EQ")
        again = Socket(lone_trader, after=snapshot["position"])
        await again.open()
        caught_up = await again.until(lambda m: m["type"] == "caught_up")
        before = again.messages[: again.messages.index(caught_up)]
        assert not any(m["type"] == "snapshot" for m in before)
        replayed = [m["order"]["id"] for m in before if m["type"] == "order"]
        assert replayed == [a["order_id"] for a in missed]  # in order, once each, theirs only
        await again.close()

    run(scenario)


def test_changes_made_while_the_feed_was_down_reach_a_connected_blotter(feed, lone_trader):
    async def scenario():
        socket = Socket(lone_trader)
        await socket.open()
        await socket.until(lambda m: m["type"] == "snapshot")
        await asyncio.to_thread(feed.stop)
        missed = await asyncio.to_thread(submit, "DESK-ARB")
        await asyncio.to_thread(feed.start)
        after = await asyncio.to_thread(submit, "DESK-ARB")
        # The feed starts at the end of the log: the first frame's chain shows the consumer a gap,
        # which it reads from the log.
        await socket.until(order_message(after["order_id"]))
        await socket.until(order_message(missed["order_id"]))
        positions = [m["position"] for m in socket.orders() if m["order"]["id"] == missed["order_id"]]
        assert len(positions) == len(set(positions))
        await socket.close()

    run(scenario)


def test_a_reconnect_too_far_behind_gets_a_snapshot(feed, lone_trader, settings):
    settings.OMS_BLOTTER_MAX_REPLAY = 1

    async def scenario():
        await asyncio.to_thread(submit, "DESK-ARB")
        await asyncio.to_thread(submit, "DESK-ARB")
        socket = Socket(lone_trader, after=1)
        await socket.open()
        await socket.until(lambda m: m["type"] == "snapshot")
        await socket.close()

    run(scenario)


def test_a_large_snapshot_comes_in_parts_that_add_up_to_it(feed, monkeypatch):
    monkeypatch.setattr(snapshot, "PART_ROWS", 2)  # a websocket message is at most 1 MiB
    risk = get_user_model().objects.get(username="risk")

    async def scenario():
        for _ in range(3):
            await asyncio.to_thread(submit, "DESK-EQ")
        socket = Socket(risk)
        await socket.open()
        await socket.until(lambda m: m["type"] == "snapshot" and not m.get("more"))
        parts = [m for m in socket.messages if m["type"] == "snapshot"]
        assert len(parts) > 1 and all(p["more"] for p in parts[:-1])
        assert all(len(p["orders"]) + len(p["fills"]) + len(p["positions"]) <= 2 for p in parts)
        whole = await asyncio.to_thread(snapshot.take, None, "risk")
        assert [o["id"] for p in parts for o in p["orders"]] == [o["id"] for o in whole["orders"]]
        await socket.close()

    run(scenario)
