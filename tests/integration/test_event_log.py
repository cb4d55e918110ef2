"""The event log is append-only, enforced by PostgreSQL itself, and readable by stream and range."""

from __future__ import annotations

import pytest
from conftest import new_cl_ord_id
from django.db import DatabaseError, connection, transaction

from orders import store


def _insert_probe_event(cursor) -> int:
    # Far beyond the engine's positions; this test's transaction is rolled back afterwards.
    cursor.execute("SELECT COALESCE(MAX(position), 0) + 1000000000 FROM events")
    position = cursor.fetchone()[0]
    cursor.execute(
        "INSERT INTO events (position, stream_type, stream_id, stream_version, event_type, schema_version, "
        "payload, account, occurred_at_ns, recorded_at_ns, actor, command_id) "
        "VALUES (%s, 'probe', %s, 1, 'Probe', 1, '{}', '', 0, 0, 'test', 'probe')",
        [position, position],
    )
    return position


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET actor = 'tampered' WHERE position = %(position)s",
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events WHERE position = %(position)s",
        "DELETE FROM events",
        "TRUNCATE events",
        "TRUNCATE events CASCADE",
    ],
)
def test_raw_sql_cannot_change_or_remove_events(statement):
    with connection.cursor() as cursor:
        position = _insert_probe_event(cursor)
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic():
                cursor.execute(statement, {"position": position})
        cursor.execute("SELECT actor FROM events WHERE position = %s", [position])
        assert cursor.fetchone() == ("test",)


def test_an_order_stream_reads_back_in_version_order(api, engine):
    response = api.post(
        "/api/v1/orders/",
        {
            "account": "DESK-EQ",
            "cl_ord_id": new_cl_ord_id(),
            "symbol": "AAPL",
            "side": "buy",
            "quantity": "10",
            "order_type": "limit",
            "limit_price": "190.00",
        },
        format="json",
    )
    order_id = response.json()["id"]
    api.post(f"/api/v1/orders/{order_id}/cancel/", {}, format="json")
    stream = store.read_stream(order_id)
    assert [e.stream_version for e in stream] == [1, 2]
    assert [e.event_type for e in stream] == ["OrderAccepted", "OrderCancelRequested"]
    assert stream[0].event.order_id == order_id


def test_positions_are_gapless_and_batches_stream_the_whole_log(engine):
    seen = []
    for batch in store.iter_batches(batch_size=7):
        assert len(batch) <= 7
        seen.extend(e.position for e in batch)
    assert seen == list(range(1, len(seen) + 1))
    assert seen[-1] == store.last_position()
