"""Snapshots on the real log: taken off the engine, verified against a full replay, and where an
engine start begins; unusable ones are skipped.

What the engine process must read is committed (`manage.py snapshot` runs in its own process); what
only this process reads stays in the test's rolled-back transaction (a corrupt snapshot committed
would be skipped by every later engine start of the session, so only one test commits any, and it
takes a valid one after them)."""

from __future__ import annotations

import re
from decimal import Decimal
from io import StringIO

import pytest
from conftest import new_cl_ord_id
from django.core.management import call_command
from fakevenue import ack, fill
from venue_stack import committed, manage

from orders import bus, snapshots, store, tasks
from orders.engine import snapshot_codec as codec
from orders.engine.snapshots import fold_tail, load, restore
from orders.models import Order, Snapshot

pytestmark = pytest.mark.usefixtures("engine")


def submit(api, **fields) -> dict:
    body = {
        "account": "DESK-EQ", "cl_ord_id": new_cl_ord_id("S"), "symbol": "MSFT", "side": "buy", "quantity": "100",
        "order_type": "limit", "limit_price": "300.00", "time_in_force": "gtc", **fields,
    }  # fmt: skip
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def trade(api) -> dict:
    """An order with history: accepted, acknowledged, partly filled."""
    order = submit(api)
    ack(order["id"])
    fill(order["id"], "30", "299.50", exec_id=new_cl_ord_id("E"))
    return order


def take_committed_snapshot() -> int:
    """`manage.py snapshot`, as an operator runs it: the position it took the snapshot at."""
    result = manage("snapshot", timeout=300)
    assert result.returncode == 0, result.stderr
    found = re.search(r"snapshot (\d+) at position (\d+)", result.stdout)
    assert found, result.stdout
    return int(found.group(2))


def test_a_snapshot_plus_the_tail_equals_a_full_replay(api):
    trade(api)
    position = take_committed_snapshot()
    tail = trade(api)
    submit(api, side="sell", quantity="10")

    result = manage("verify_snapshot", timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"OK: the snapshot at position {position} + " in result.stdout
    verdict = snapshots.snapshot_verify()
    assert verdict.ok and verdict.start.snapshot_position == position
    assert verdict.start.tail_events == verdict.position - position >= 4
    assert tail["id"] in restore(snapshots.current_reference())[0].orders


def test_the_engine_starts_from_the_newest_snapshot_plus_the_tail(api, engine):
    before = trade(api)
    position = take_committed_snapshot()
    after = trade(api)
    end = store.last_position()

    engine.kill()
    engine.start()

    start = bus.engine_health()["start"]
    assert start["path"] == "snapshot", start
    assert start["snapshot_position"] == position
    assert start["tail_events"] == end - position
    log = engine.log_path.read_text()
    assert f"recovered from snapshot at position {position} + {end - position} tail events" in log
    # what it knows from the snapshot and from the tail, it knows
    again = api.post("/api/v1/orders/", {**{k: before[k] for k in ("account", "cl_ord_id", "symbol", "side",
                     "quantity", "order_type", "limit_price", "time_in_force")}}, format="json")  # fmt: skip
    assert again.status_code in (200, 201) and again.json()["id"] == before["id"]
    for order in (before, after):
        response = api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
        assert response.status_code in (200, 202), response.content
        assert Order.objects.get(id=order["id"]).status == "pending_cancel"


def test_corrupt_and_unknown_snapshots_are_skipped_and_the_engine_still_starts_right(api, engine):
    trade(api)
    good = take_committed_snapshot()
    order = trade(api)
    end = store.last_position()
    # newer than the good one: a payload that fails its checksum, and one of a version from the future
    committed("INSERT INTO snapshots (position, schema_version, compression, checksum, payload, size_bytes, orders, "
              "tail_events, took_ms, created_at) VALUES (%s, 1, 'zlib', %s, %s, 3, 0, 0, 0, now())",
              end, "0" * 64, b"bad")  # fmt: skip
    future = codec.pack({"schema": codec.SCHEMA_VERSION + 1})
    committed("INSERT INTO snapshots (position, schema_version, compression, checksum, payload, size_bytes, orders, "
              "tail_events, took_ms, created_at) VALUES (%s, %s, 'zlib', %s, %s, %s, 0, 0, 0, now())",
              end, codec.SCHEMA_VERSION + 1, codec.checksum(future), future, len(future))  # fmt: skip
    try:
        engine.kill()
        engine.start()

        start = bus.engine_health()["start"]
        assert (start["path"], start["snapshot_position"], start["skipped"]) == ("snapshot", good, 2), start
        log = engine.log_path.read_text()
        assert f"at position {end} skipped: checksum mismatch" in log
        assert f"at position {end} skipped: schema version {codec.SCHEMA_VERSION + 1} is newer" in log
        response = api.post(f"/api/v1/orders/{order['id']}/cancel/", {}, format="json")
        assert response.status_code in (200, 202), response.content
    finally:
        take_committed_snapshot()  # a valid one newest again, for the engine starts after this test


def test_restore_skips_every_unusable_snapshot_with_its_reason(api):
    trade(api)
    reference = snapshots.current_reference()
    taken = snapshots.snapshot_take()  # in this test's transaction, as the rows below
    assert taken is not None
    good = taken.snapshot.position
    end = store.last_position()
    row = Snapshot.objects.get(id=taken.snapshot.id)
    fields = {f: getattr(row, f) for f in ("schema_version", "compression", "checksum", "payload", "size_bytes",
                                           "orders", "tail_events", "took_ms")}  # fmt: skip
    Snapshot.objects.create(**{**fields, "position": end + 5})  # past the end of the log
    Snapshot.objects.create(**{**fields, "position": end, "checksum": "f" * 64})
    tokyo = {"trading_day": "closes midnight Asia/Tokyo, every day", "duplicate_window_ns": 1}
    other_basis = codec.pack({**codec.unpack(bytes(row.payload)), "basis": tokyo})
    Snapshot.objects.create(**{**fields, "position": end, "payload": other_basis,
                               "checksum": codec.checksum(other_basis)})  # fmt: skip

    state, start = restore(reference)

    assert start.snapshot_position == good
    reasons = "\n".join(start.skipped)
    assert len(start.skipped) == 3, reasons
    assert "past the end of the log" in reasons and "checksum mismatch" in reasons
    assert "taken on trading day 'closes midnight Asia/Tokyo, every day'" in reasons
    replayed, replay = restore(reference, until=0)  # nothing: an empty state to fold the whole log into
    assert replay.tail_events == 0 and not replay.from_snapshot

    fold_tail(replayed, reference.zone)
    assert codec.state_hash(state) == codec.state_hash(replayed)


def test_verify_names_what_differs_and_fails(api):
    order = trade(api)
    reference = snapshots.current_reference()
    state, _ = restore(reference)
    tampered = state.orders[order["id"]]
    state.orders[order["id"]] = type(tampered)(**{**{f: getattr(tampered, f) for f in codec.ORDER_FIELDS},
                                                  "cum_qty": Decimal(31)})  # fmt: skip
    payload = codec.pack(codec.encode(state, reference.basis))
    Snapshot.objects.create(position=state.last_position, schema_version=codec.SCHEMA_VERSION, compression="zlib",
                            checksum=codec.checksum(payload), payload=payload, size_bytes=len(payload),
                            orders=len(state.orders), tail_events=0, took_ms=0)  # fmt: skip
    out = StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("verify_snapshot", position=state.last_position, stdout=out)

    assert exited.value.code == 1
    assert "MISMATCH" in out.getvalue()
    assert "orders: 1 entries only in the replay, 1 only in the snapshot + tail" in out.getvalue()
    assert "usage:" not in out.getvalue()  # only the order was changed


def test_verify_of_a_position_without_a_snapshot_says_so():
    result = manage("verify_snapshot", "--position", str(store.last_position() + 1000))
    assert result.returncode == 1
    assert "the snapshot cannot be used: no snapshot at position" in result.stderr


def test_the_celery_task_takes_a_snapshot_when_one_is_due(api, settings):
    trade(api)
    settings.OMS_SNAPSHOT_EVERY_EVENTS = 10**9
    settings.OMS_SNAPSHOT_SECONDS = 3600
    if snapshots.snapshot_due() is None:  # a snapshot newer than an hour: make one due by count
        settings.OMS_SNAPSHOT_EVERY_EVENTS = 1
    assert snapshots.snapshot_due() is not None

    tasks.snapshot_if_due()  # what the worker runs: it calls the service

    newest = Snapshot.objects.order_by("-position", "-id").first()
    assert newest is not None and newest.position == store.last_position()
    assert snapshots.snapshot_due() is None  # nothing new since
    assert load(snapshots.current_reference())[0].id == newest.id
    tasks.snapshot_if_due()
    assert Snapshot.objects.order_by("-position", "-id").first().id == newest.id
