"""Replay: rebuild the projections from a log of N events (default 1,000,000).

Prints the rebuild's events/s beside two baselines measured in the same run on the same log:
- raw: COPY the log out with psycopg and fold it with the domain code in memory (no writes);
- naive: the per-event ORM replay (read an event, load its order, apply, save), on a sample.

    make bench            (or: python bench/replay.py [--events N] [--quick])
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal

from common import parse_args, prepare_database, raw_connection, row
from django.db import transaction
from tqdm import tqdm

from orders import rebuild, store
from orders.domain import events as ev
from orders.domain.fold import apply
from orders.domain.serialization import SCHEMA_VERSIONS, event_from_payload, event_to_payload
from orders.domain.values import OrderType, Side, TimeInForce
from orders.engine import WRITER_LOCK_KEY
from orders.models import Order
from orders.projections import order_row


def order_history(order_id: int, at: int) -> list[ev.Event]:
    """A typical order: accepted, acknowledged, partially filled, filled."""
    side = Side.BUY if order_id % 2 else Side.SELL
    return [
        ev.OrderAccepted(order_id, at, "DESK-EQ", f"R-{order_id}", "AAPL", side, Decimal(100), OrderType.LIMIT,
                         TimeInForce.DAY, Decimal("190.50")),
        ev.OrderAcknowledged(order_id, at + 1000, f"A-{order_id}"),
        ev.OrderPartiallyFilled(order_id, at + 2000, f"F1-{order_id}", Decimal(40), Decimal("190.50")),
        ev.OrderFilled(order_id, at + 3000, f"F2-{order_id}", Decimal(60), Decimal("190.49")),
    ]  # fmt: skip


def ensure_log(target: int) -> int:
    """Append synthetic order histories after whatever the log holds until it has `target` events."""
    have = store.last_position()
    if have >= target:
        return have
    with raw_connection() as conn:
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", [WRITER_LOCK_KEY]).fetchone()[0]:
            raise SystemExit("an engine is running against the bench database; stop it first")
        next_order = conn.execute("SELECT COALESCE(MAX(stream_id), 0) + 1 FROM events").fetchone()[0]
        position = have
        at = time.time_ns()
        with tqdm(total=target - have, unit="ev", unit_scale=True, desc="writing log") as bar:
            while position < target:
                with conn.cursor().copy(f"COPY events ({', '.join(store.COLUMNS)}) FROM STDIN") as copy:
                    for _ in range(5000):
                        for version, event in enumerate(order_history(next_order, at), start=1):
                            position += 1
                            name = type(event).__name__
                            copy.write_row((
                                position, "order", next_order, version, name, SCHEMA_VERSIONS[name],
                                json.dumps(event_to_payload(event)), "DESK-EQ", event.at_ns, event.at_ns,
                                "bench", "bench",
                            ))  # fmt: skip
                        next_order += 1
                conn.commit()
                bar.update(20_000)
        conn.execute("SELECT pg_advisory_unlock(%s)", [WRITER_LOCK_KEY])
        conn.commit()
    return store.last_position()


def raw_copy_and_fold() -> tuple[int, float]:
    started = time.perf_counter()
    states: dict[int, object] = {}
    count = 0
    with raw_connection() as conn, conn.cursor() as cur:
        query = "COPY (SELECT stream_id, event_type, schema_version, payload, occurred_at_ns FROM events " \
                "WHERE stream_type = 'order' ORDER BY position) TO STDOUT"  # fmt: skip
        with cur.copy(query) as copy:
            copy.set_types(["int8", "text", "int2", "text", "int8"])
            for stream_id, event_type, schema_version, payload, at_ns in copy.rows():
                event = event_from_payload(event_type, schema_version, json.loads(payload), order_id=stream_id,
                                           at_ns=at_ns)  # fmt: skip
                states[stream_id] = apply(states.get(stream_id), event)
                count += 1
    return count, time.perf_counter() - started


def naive_orm_replay(sample: int) -> tuple[int, float]:
    """Per event: read it with the ORM, load its order row, apply, save. Rolled back afterwards."""
    from orders.models import Event
    from orders.projections import ORDER_COLUMNS, _state_from_row

    started = time.perf_counter()
    count = 0
    with transaction.atomic():
        Order.objects.all().delete()
        for record in Event.objects.filter(stream_type="order").order_by("position")[:sample].iterator():
            event = event_from_payload(record.event_type, record.schema_version, record.payload,
                                       order_id=record.stream_id, at_ns=record.occurred_at_ns)  # fmt: skip
            existing = Order.objects.filter(id=record.stream_id).values_list(*[
                "account_id" if c == "account_code" else c for c in ORDER_COLUMNS]).first()  # fmt: skip
            state = apply(_state_from_row(existing) if existing else None, event)
            values = dict(zip(ORDER_COLUMNS, order_row(state, "UTC")))
            values["account_id"] = values.pop("account_code")
            Order(**values).save()
            count += 1
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return count, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--naive-sample", type=int, default=5_000)
    args = parse_args(parser, events=20_000, naive_sample=500)
    prepare_database()
    total = ensure_log(args.events)
    print(f"Replay: rebuilding orders, fills and positions from a log of {total:,} events")
    count, elapsed = raw_copy_and_fold()
    raw_rate = count / elapsed
    row("baseline: raw COPY out + fold in memory (no writes)", f"{raw_rate:,.0f} events/s ({elapsed:.1f}s)")
    count, elapsed = naive_orm_replay(args.naive_sample)
    naive_rate = count / elapsed
    row(f"baseline: naive per-event ORM replay ({count:,} sample)", f"{naive_rate:,.0f} events/s")
    with tqdm(total=total, unit="ev", unit_scale=True, desc="rebuild", leave=False) as bar:
        started = time.perf_counter()
        replayed = rebuild.rebuild(bar.update)
        elapsed = time.perf_counter() - started
    rate = replayed / elapsed
    row("rebuild_projections (reads, folds, writes all three)", f"{rate:,.0f} events/s ({elapsed:.1f}s)")
    row("", f"{rate / raw_rate:.2f}x the raw rate, {rate / naive_rate:.0f}x the naive replay")


if __name__ == "__main__":
    main()
