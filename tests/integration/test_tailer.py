"""Tailing the committed log from a durable checkpoint."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from conftest import new_cl_ord_id

from orders import store
from orders.tailer import LogTailer

pytestmark = pytest.mark.usefixtures("engine")


def submit(api) -> int:
    body = {"account": "DESK-EQ", "cl_ord_id": new_cl_ord_id("TL"), "symbol": "AAPL", "side": "buy",
            "quantity": "1", "order_type": "limit", "limit_price": "100.00"}  # fmt: skip
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201
    return response.json()["id"]


def test_a_tailer_sees_every_committed_event_in_order_and_resumes_from_its_checkpoint(api):
    name = f"test-{uuid.uuid4().hex[:8]}"
    seen: list[int] = []
    tailer = LogTailer(name, lambda batch: seen.extend(e.position for e in batch), batch_size=7)
    tailer.catch_up()
    assert seen == list(range(1, store.last_position() + 1)), "from the start, gapless, in order"

    seen.clear()
    order_id = submit(api)
    again = LogTailer(name, lambda batch: seen.extend(e.stream_id for e in batch))  # a restart: same checkpoint
    assert again.catch_up() == 1 and seen == [order_id]


def test_a_failing_handler_leaves_the_checkpoint_so_the_batch_comes_again(api):
    name = f"test-{uuid.uuid4().hex[:8]}"
    LogTailer(name, lambda batch: None).catch_up()
    order_id = submit(api)

    def explode(batch):
        raise RuntimeError("venue unreachable")

    failing = LogTailer(name, explode)
    before = failing.position()
    with pytest.raises(RuntimeError):
        failing.catch_up()
    assert failing.position() == before
    redelivered: list[int] = []
    LogTailer(name, lambda batch: redelivered.extend(e.stream_id for e in batch)).catch_up()
    assert redelivered == [order_id]


def test_a_running_tailer_wakes_on_the_engines_commit_notification(api):
    from django.db import connection

    name = f"test-{uuid.uuid4().hex[:8]}"
    seen: set[int] = set()
    changed = threading.Condition()

    def handle(batch):
        with changed:
            seen.update(e.stream_id for e in batch)
            changed.notify_all()

    tailer = LogTailer(name, handle, poll_seconds=30)  # only the notification can wake it in time

    def run():
        try:
            tailer.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        time.sleep(0.5)  # caught up and waiting
        order_id = submit(api)
        with changed:
            assert changed.wait_for(lambda: order_id in seen, timeout=5), "the tailer did not wake on the commit"
    finally:
        tailer.stop()
        thread.join(timeout=40)


def test_batches_that_needed_nothing_done_move_the_checkpoint_at_most_once_a_second(api):
    name = f"test-{uuid.uuid4().hex[:8]}"
    LogTailer(name, lambda batch: None).catch_up()
    quiet = LogTailer(name, lambda batch: False)  # a client feed with no report for its session, say
    submit(api)
    quiet.catch_up()
    moved = quiet.position()
    assert moved == store.last_position(), "the first such batch moves it"
    submit(api)
    quiet.catch_up()
    assert quiet.position() == moved, "the next, within the second, leaves it"
    redelivered: list[int] = []
    LogTailer(name, lambda batch: redelivered.extend(e.position for e in batch)).catch_up()
    assert redelivered and redelivered[0] == moved + 1, "a restart reads it again: harmless, by the handler's word"
