"""Replay: rebuild the projections, and the engine's recovery fold, from a log of N events (default 1,000,000).

Prints, measured in the same run on the same log:
- baseline: raw COPY of the log out with psycopg and a plain dict fold (per order a dict: status,
  version, cum_qty as Decimal), no domain objects, no writes: what reading and folding costs at least;
- the engine's recovery fold (orders/engine/snapshots.py `restore`, the whole log, no snapshot): every
  event decoded into its domain event and folded into EngineState (orders, ClOrdIDs, risk usage...);
- rebuild_projections: the recovery's decode and fold of the orders plus writing orders, fills and
  positions;
each beside the baseline with the goal (at least 0.5x); and, for reference, a raw COPY with the domain
decode and `apply` only, and the naive per-event ORM replay on a sample.

    make bench            (or: python bench/replay.py [--events N] [--quick])
"""

from __future__ import annotations

import argparse
import json
import os
import time
from decimal import Decimal

import orjson
from common import parse_args, prepare_database, raw_connection, row
from django.db import connection, transaction
from tqdm import tqdm

from orders import rebuild, store
from orders.domain import events as ev
from orders.domain.fold import apply
from orders.domain.serialization import SCHEMA_VERSIONS, event_from_payload, event_to_payload
from orders.domain.values import OrderType, Side, TimeInForce
from orders.engine import WRITER_LOCK_KEY
from orders.engine.snapshots import restore
from orders.models import Order
from orders.projections import order_row
from orders.snapshots import current_reference

GOAL = 0.5  # issue 10: recovery and rebuild at least half the raw COPY + plain dict fold
ZERO = Decimal(0)
ORDER_EVENTS = "COPY (SELECT stream_id, event_type, schema_version, payload, occurred_at_ns FROM events " \
               "WHERE stream_type = 'order' ORDER BY position) TO STDOUT"  # fmt: skip


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


def raw_copy_and_dict_fold() -> tuple[int, float]:
    """The floor: COPY the order events out, parse each payload, fold into a dict per order."""
    started = time.perf_counter()
    orders: dict[int, dict] = {}
    count = 0
    with raw_connection() as conn, conn.cursor() as cur, cur.copy(ORDER_EVENTS) as copy:
        copy.set_types(["int8", "text", "int2", "text", "int8"])
        for stream_id, event_type, _, payload, at_ns in copy.rows():
            data = orjson.loads(payload)
            order = orders.get(stream_id)
            if order is None:
                orders[stream_id] = {
                    **data,
                    "status": event_type,
                    "version": 1,
                    "cum_qty": ZERO,
                    "updated_at_ns": at_ns,
                }
            else:
                order["status"] = event_type
                order["version"] += 1
                order["updated_at_ns"] = at_ns
                if "last_qty" in data:
                    order["cum_qty"] += Decimal(data["last_qty"])
            count += 1
    return count, time.perf_counter() - started


def raw_copy_and_domain_fold() -> tuple[int, float]:
    """COPY the order events out, decode each into its domain event, `apply` it: no engine state."""
    started = time.perf_counter()
    states: dict[int, object] = {}
    count = 0
    with raw_connection() as conn, conn.cursor() as cur, cur.copy(ORDER_EVENTS) as copy:
        copy.set_types(["int8", "text", "int2", "text", "int8"])
        for stream_id, event_type, schema_version, payload, at_ns in copy.rows():
            event = event_from_payload(event_type, schema_version, orjson.loads(payload), order_id=stream_id,
                                       at_ns=at_ns)  # fmt: skip
            states[stream_id] = apply(states.get(stream_id), event)
            count += 1
    return count, time.perf_counter() - started


def reading_the_log() -> tuple[int, float]:
    """What the recovery and the rebuild read, as they read it (store.iter_batches): no decode, no fold."""
    started = time.perf_counter()
    count = sum(len(batch) for batch in store.iter_batches(batch_size=20_000))
    return count, time.perf_counter() - started


def backend_cpu_seconds() -> float:
    """CPU time so far of the PostgreSQL backend serving Django's connection (it runs on this machine)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_per_event(process: float, backend: float, count: int) -> str:
    return f"CPU/event: {process / count * 1e6:.1f} us here + {backend / count * 1e6:.1f} us PostgreSQL"


def engine_recovery_fold() -> tuple[int, float]:
    """The engine's start without a snapshot: the whole log folded into a fresh EngineState."""
    reference = current_reference()
    started = time.perf_counter()
    _, start = restore(reference, use_snapshots=False)
    return start.tail_events, time.perf_counter() - started


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
    print(f"Replay: recovery and rebuild from a log of {total:,} events")
    cpu = time.process_time()
    count, elapsed = raw_copy_and_dict_fold()
    raw_rate, raw_cpu = count / elapsed, (time.process_time() - cpu) / count
    row("baseline: raw COPY out + plain dict fold (no writes)", f"{raw_rate:,.0f} events/s ({elapsed:.1f}s), "
        f"CPU/event: {raw_cpu * 1e6:.1f} us here")  # fmt: skip
    cpu = time.process_time()
    count, elapsed = raw_copy_and_domain_fold()
    domain_cpu = (time.process_time() - cpu) / count
    row("  for reference: raw COPY + domain decode and apply", f"{count / elapsed:,.0f} events/s "
        f"({count / elapsed / raw_rate:.2f}x), CPU/event: {domain_cpu * 1e6:.1f} us")  # fmt: skip
    count, elapsed = naive_orm_replay(args.naive_sample)
    naive_rate = count / elapsed
    row(f"  for reference: naive per-event ORM replay ({count:,})", f"{naive_rate:,.0f} events/s")
    count, elapsed = reading_the_log()
    row("  for reference: reading the log as recovery does", f"{count / elapsed:,.0f} events/s "
        f"({count / elapsed / raw_rate:.2f}x), no decode, no fold")  # fmt: skip
    cpu, backend = time.process_time(), backend_cpu_seconds()
    count, elapsed = engine_recovery_fold()
    recovery_rate = count / elapsed
    row("engine recovery fold (whole log -> EngineState)", f"{recovery_rate:,.0f} events/s ({elapsed:.1f}s)")
    recovery_cpu = (time.process_time() - cpu) / count
    row("", cpu_per_event(recovery_cpu * count, backend_cpu_seconds() - backend, count))
    row("", f"{verdict(recovery_rate / raw_rate)}; by CPU here {raw_cpu / recovery_cpu:.2f}x")
    with tqdm(total=total, unit="ev", unit_scale=True, desc="rebuild", leave=False) as bar:
        cpu, backend = time.process_time(), backend_cpu_seconds()
        started = time.perf_counter()
        replayed = rebuild.rebuild(bar.update)
        elapsed = time.perf_counter() - started
    rate = replayed / elapsed
    row("rebuild_projections (reads, folds, writes all three)", f"{rate:,.0f} events/s ({elapsed:.1f}s)")
    rebuild_cpu = (time.process_time() - cpu) / replayed
    row("", cpu_per_event(rebuild_cpu * replayed, backend_cpu_seconds() - backend, replayed))
    row("", f"{verdict(rate / raw_rate)}; by CPU here {raw_cpu / rebuild_cpu:.2f}x; "
        f"{rate / naive_rate:.0f}x the naive replay")  # fmt: skip
    print(f"  load average during the run: {os.getloadavg()[0]:.1f} (1 min), on {os.cpu_count()} cores")


def verdict(ratio: float) -> str:
    return f"{ratio:.2f}x the baseline (goal >= {GOAL}x: {'met' if ratio >= GOAL else 'not met'})"


if __name__ == "__main__":
    main()
