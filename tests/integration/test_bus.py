"""The command bus against real Redis: many commands sent at once, each answer taken in order."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from orders import bus
from orders.domain import commands as cmd


@pytest.fixture
def no_engine(settings):
    """A bus of its own that no engine reads: the test answers in the engine's place."""
    settings.OMS_BUS_PREFIX = f"test-bus-{uuid.uuid4().hex[:8]}"
    yield
    client = bus.client()
    for key in client.scan_iter(f"{settings.OMS_BUS_PREFIX}:*"):
        client.delete(key)


def answer(indexes: set[int], count: int) -> threading.Thread:
    """Answers the commands at `indexes` once `count` are on the bus, as the engine does: in one go."""

    def run() -> None:
        client = bus.client()
        deadline = time.monotonic() + 5
        while len(entries := client.xrange(bus.commands_stream())) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        pipe = client.pipeline(transaction=False)
        for index, (_, fields) in enumerate(entries):
            if index in indexes:
                data = json.loads(fields["c"])
                pipe.rpush(data["reply_to"], json.dumps({"outcome": "accepted", "n": index}))
        pipe.execute()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def cancel(i: int) -> cmd.CancelOrder:
    return cmd.CancelOrder(bus.new_command_id(), time.time_ns(), "test", "DESK-EQ", i + 1, f"B-{i}", f"A-{i}")


def test_send_each_gives_every_answer_in_order_and_none_for_a_command_left_unanswered(no_engine):
    commands = [cancel(i) for i in range(4)]
    engine = answer({0, 1, 3}, len(commands))
    answers = bus.send_each(commands, timeout=0.5)
    engine.join()
    assert [a and a["n"] for a in answers] == [0, 1, None, 3]


def test_send_many_refuses_the_lot_when_one_is_left_unanswered(no_engine):
    commands = [cancel(i) for i in range(3)]
    engine = answer({0, 2}, len(commands))
    with pytest.raises(bus.EngineUnavailable):
        bus.send_many(commands, timeout=0.5)
    engine.join()
