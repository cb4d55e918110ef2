"""The engine's post-commit notice of what it routed (orders/routed.py), and the venue connector's
outbound taking its orders from it, the log as the fallback (venues/connector/outbound.py).

The venue here is the test session's HELD one (conftest: published as logged on, no process
behind it); its session is a recording stand-in, so what the outbound would put on the wire is
seen message by message. The real FIX path is test_venue_connector.py's."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from conftest import HELD_VENUE, new_cl_ord_id
from venue_stack import committed

from orders import bus, routed, store
from orders.models import Checkpoint, Order
from orders.routed import RoutedOrder
from orders.tailer import read_log
from venues.connector.link import VenueLink
from venues.connector.outbound import Outbound
from venues.models import Venue

pytestmark = pytest.mark.usefixtures("engine")


class RecordingLink(VenueLink):
    """The HELD venue's session, always up: what would be sent is kept, in order."""

    def __init__(self) -> None:
        super().__init__(Venue.objects.get(name=HELD_VENUE), threading.Event())
        self.messages: list[tuple[str, str]] = []  # (35, 11)
        self.up.set()

    def send(self, message) -> None:
        self.messages.append((message.getHeader().getField(35), message.getField(11)))

    def sent_for(self, order_id: int) -> list[str]:
        """The message types (35) sent for `order_id`, in order."""
        return [kind for kind, cl_ord_id in self.messages if cl_ord_id.startswith(f"{order_id}:")]


class CountingRead:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, after: int, limit: int) -> list[store.StoredEvent]:
        self.calls += 1
        return read_log(after, limit)


def outbound_at_the_log_end() -> tuple[Outbound, RecordingLink, CountingRead]:
    """An outbound for HELD on a checkpoint of its own, from the log's end (not the whole history)."""
    link = RecordingLink()
    outbound = Outbound([link])
    tailer = outbound.tailers[HELD_VENUE]
    tailer.name = f"venue:{HELD_VENUE}:test-{uuid.uuid4().hex[:8]}"
    table = Checkpoint._meta.db_table
    committed(f"INSERT INTO {table} (name, position, updated_at) VALUES (%s, %s, now())", tailer.name,
              store.last_position())  # fmt: skip
    tailer.read = reads = CountingRead()
    return outbound, link, reads


def submit(api) -> dict:
    body = {"account": "DESK-EQ", "cl_ord_id": new_cl_ord_id("RN"), "symbol": "AAPL", "side": "buy",
            "quantity": "5", "order_type": "limit", "limit_price": "99.00", "venue": HELD_VENUE}  # fmt: skip
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "pending_new", order
    return order


class Notices:
    """The notices the engine publishes from now on."""

    def __init__(self) -> None:
        self.pubsub = bus.client().pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(routed.channel())
        self.pubsub.get_message(timeout=1)  # the subscription is in place

    def about(self, order_id: int, event_type: str, timeout: float = 10) -> str:
        """The next notice routing `event_type` of `order_id`, as published."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.5)
            if message is None:
                continue
            notice = routed.decode(message["data"])
            if any(s.stream_id == order_id and s.event_type == event_type for s, _ in notice.routed):
                return message["data"]
        raise AssertionError(f"no notice of {event_type} for order {order_id}")

    def close(self) -> None:
        self.pubsub.close()


@pytest.fixture
def notices():
    listening = Notices()
    yield listening
    listening.close()


def test_the_engine_announces_each_routed_event_after_its_commit_with_the_order_as_committed(api, notices):
    order = submit(api)
    notice = routed.decode(notices.about(order["id"], "OrderAccepted"))
    logged = store.read_range(notice.after, notice.last)
    assert [s.position for s in logged] == list(range(notice.after + 1, notice.last + 1)), "committed, all of it"
    (accepted, given), *_ = [(s, o) for s, o in notice.routed if s.stream_id == order["id"]]
    in_log = next(s for s in logged if s.position == accepted.position)
    assert (in_log.event_type, in_log.payload, in_log.actor) == (accepted.event_type, accepted.payload, accepted.actor)
    assert accepted.event == in_log.event
    row = Order.objects.filter(id=order["id"]).values(*RoutedOrder.ROW_FIELDS).get()
    assert given == RoutedOrder.from_row(row), "the order as the projection has it after the same commit"
    assert notice.switches.engaged() == ()

    api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
    notice = routed.decode(notices.about(order["id"], "OrderCancelRequested"))
    (_, given), *_ = [(s, o) for s, o in notice.routed if s.stream_id == order["id"]]
    assert given is not None and given.pending_kind == "cancel" and given.pending_cl_ord_id


def test_an_order_routed_from_the_notice_reaches_the_venue_once_without_a_read_of_the_log(api):
    from django.db import connection

    outbound, link, reads = outbound_at_the_log_end()
    tailer = outbound.tailers[HELD_VENUE]
    start = tailer.position()
    tailer.poll_seconds = 30  # no poll: only a notice, or a commit heard without one, reads anything

    def run():
        try:
            tailer.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while reads.calls == 0:  # caught up from the checkpoint: now it listens
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.2)
        before = reads.calls
        order = submit(api)
        deadline = time.monotonic() + 10
        while not link.sent_for(order["id"]):
            assert time.monotonic() < deadline, "the order did not reach the venue"
            time.sleep(0.02)
        api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
        while len(link.sent_for(order["id"])) < 2:
            assert time.monotonic() < deadline, "the cancel did not reach the venue"
            time.sleep(0.02)
        time.sleep(0.3)  # anything more would have come by now
        assert link.sent_for(order["id"]) == ["D", "F"], "each once, in order"
        assert reads.calls == before, "taken from the engine's notices: no read of the log"
    finally:
        tailer.stop()
        thread.join(timeout=40)
    assert tailer.position() > start, "the checkpoint moved with the notices"


def test_a_missed_notice_is_caught_up_from_the_log_and_a_late_one_sends_nothing_again(api, notices):
    outbound, link, reads = outbound_at_the_log_end()
    tailer = outbound.tailers[HELD_VENUE]
    first, second = submit(api), submit(api)
    notice = notices.about(second["id"], "OrderAccepted")
    # The first order's notice never reached us: the second's does not follow on, so the log is read.
    tailer.on_notice(notice)
    assert reads.calls >= 1
    assert link.sent_for(first["id"]) == ["D"] and link.sent_for(second["id"]) == ["D"]
    assert [c for _, c in link.messages].index(f"{first['id']}:{first['cl_ord_id']}") < [
        c for _, c in link.messages
    ].index(f"{second['id']}:{second['cl_ord_id']}"), "in log order"
    assert tailer.position() >= routed.decode(notice).last

    tailer.on_notice(notice)  # heard late, or twice: past it already
    tailer.catch_up()  # and the log, read again from the checkpoint
    assert link.sent_for(first["id"]) == ["D"] and link.sent_for(second["id"]) == ["D"], "nothing sent twice"


def test_a_notice_that_follows_on_is_sent_from_without_reading_the_log(api, notices):
    outbound, link, reads = outbound_at_the_log_end()
    tailer = outbound.tailers[HELD_VENUE]
    order = submit(api)
    notice = notices.about(order["id"], "OrderAccepted")
    # Nothing else commits in this test: the order's notice starts where the tailer's checkpoint is.
    assert routed.decode(notice).after == tailer.position(), "another commit came between the checkpoint and the order"
    tailer.on_notice(notice)
    assert link.sent_for(order["id"]) == ["D"]
    assert reads.calls == 0
    assert tailer.position() == routed.decode(notice).last, "the checkpoint moved with it"


def test_an_unreadable_notice_is_let_go_for_the_log(api):
    outbound, link, reads = outbound_at_the_log_end()
    tailer = outbound.tailers[HELD_VENUE]
    before = tailer.position()
    tailer.on_notice("not a notice")
    tailer.on_notice('{"after": 1}')
    assert tailer.position() == before and link.messages == [] and reads.calls == 0
