"""Snapshots: engine restart after kill -9 from a snapshot + the log's tail, beside a full replay,
and the engine's order rate while a snapshot is being taken, beside without. Same run, same log.

1. The log is brought to N events (default 1,000,000: replay.py's synthetic order histories), a
   snapshot is taken at its end (the service the Celery task calls, here in this process), and a
   tail of T more events is appended after it.
2. Restart: a running engine is killed with SIGKILL and a new one started at once (with --standby,
   as the respawn wrapper's would wait out the dead one's writer lock); the figure is the time from
   the kill until health says `live` with the new pid. From the snapshot + tail (--restarts times,
   the median counts; goal: live within 5 s), and once with --full-replay (the baseline), with the
   engine's own account of where the time went (snapshot read, tail fold; the rest is process start,
   reference data, the bus) and the CPU time it used, which a busy machine does not inflate.
3. Order rate: concurrent senders submit orders for a few seconds and the committed orders/s are
   counted; then again while `manage.py snapshot` runs beside (its own process, folding and
   writing a snapshot of the whole state, at OMS_SNAPSHOT_NICENESS), then once more without. Goal:
   with >= 0.9x without (the mean of the runs just before and after; the median of --rounds
   rounds). The orders rest at a held venue (a session that reads as logged
   on, where nothing answers), and are rejected by it at the end, leaving nothing live.

    make bench            (or: python bench/snapshot_restart.py [--events N] [--tail T] [--quick])
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import redis.asyncio as aioredis
from common import (
    BASE_DIR,
    VAR,
    CpuMeter,
    parse_args,
    prepare_database,
    report_cpu,
    report_machine,
    row,
    spawn,
    stop,
)
from django.conf import settings
from replay import ensure_log
from tqdm import tqdm

from orders import bus, snapshots, store, venue_feed
from orders.domain import commands as cmd
from orders.domain.values import ExecType, OrderType, Side, TimeInForce
from orders.models import Account, Order
from venues.models import Venue

ACCOUNT = "BENCH-SNAP"  # no limits
VENUE = "BENCH-SNAP-HELD"
SYMBOL = "AAPL"
BID, ASK = Decimal("99.90"), Decimal("100.10")
LOG = "bench-snapshot-engine.log"
GOAL_SECONDS = 5.0


def hold_venue(stop_event: threading.Event) -> None:
    """VENUE logged on, AAPL quoted: what a connector would say, every half second."""
    while not stop_event.is_set():
        venue_feed.publish(VENUE, venue_feed.LOGGED_ON)
        venue_feed.publish_book(VENUE, SYMBOL, [(BID, Decimal(1000))], [(ASK, Decimal(1000))])
        stop_event.wait(0.5)


# -- restart ---------------------------------------------------------------------------------------


def start_engine(*options: str) -> subprocess.Popen:
    return spawn("manage.py", "run_engine", "--standby", *options, log=LOG)


def wait_live(process: subprocess.Popen, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = bus.engine_health()
        if health and health["state"] == "live" and health["pid"] == process.pid:
            return health
        if process.poll() is not None:
            raise RuntimeError(f"engine exited; see {VAR / LOG}")
        time.sleep(0.01)
    raise TimeoutError("engine not live")


def restart(running: subprocess.Popen, *options: str) -> tuple[subprocess.Popen, float, dict]:
    """kill -9 `running`, start a new engine at once: (it, seconds from the kill to live, its health
    with `cpu_seconds`: the CPU time the new engine had used when live, which other work on the
    machine does not inflate as it does the wall time)."""
    killed = time.perf_counter()
    running.send_signal(signal.SIGKILL)
    running.wait()
    process = start_engine(*options)
    health = wait_live(process)
    elapsed = time.perf_counter() - killed
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    health["cpu_seconds"] = (int(fields[11]) + int(fields[12])) / CpuMeter.TICKS
    return process, elapsed, health


def describe(health: dict) -> str:
    start = health["start"]
    if start["path"] == "snapshot":
        return f"snapshot at {start['snapshot_position']:,} + {start['tail_events']:,} tail events"
    return f"full replay of {start['tail_events']:,} events"


# -- order rate ------------------------------------------------------------------------------------


class Orders:
    """Limit buys from 95.00 to 99.99 at the held venue, no two alike (the duplicate check passes)."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.count = 0

    def next(self) -> cmd.SubmitOrder:
        k = self.count = self.count + 1
        return cmd.SubmitOrder(
            bus.new_command_id(), time.time_ns(), "bench", ACCOUNT, f"SN-{self.tag}-{k}", SYMBOL, Side.BUY,
            Decimal(1 + k // 500), OrderType.LIMIT, TimeInForce.DAY, Decimal("95.00") + Decimal(k % 500) / 100,
            venue=VENUE,
        )  # fmt: skip


async def drive(orders: Orders, senders: int, until: Callable[[], bool]) -> tuple[int, float]:
    """Concurrent senders, each one order at a time, until `until()`: (orders answered, seconds)."""
    stream = bus.commands_stream()
    clients = [aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True) for _ in range(senders)]
    done = 0

    async def sender(client: aioredis.Redis) -> None:
        nonlocal done
        while not until():
            command = orders.next()
            reply_to = bus.key(f"reply:{command.command_id}")
            pipe = client.pipeline(transaction=False)
            pipe.xadd(stream, {"c": bus.encode(command, reply_to)})
            pipe.blpop([reply_to], timeout=30)
            _, answer = await pipe.execute()
            assert answer is not None and json.loads(answer[1])["outcome"] == "accepted", answer
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(sender(c) for c in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return done, elapsed


def rate_for(orders: Orders, senders: int, seconds: float) -> float:
    deadline = time.monotonic() + seconds
    done, elapsed = asyncio.run(drive(orders, senders, lambda: time.monotonic() >= deadline))
    return done / elapsed


def rate_while_snapshotting(orders: Orders, senders: int, seconds: float) -> tuple[float, float, str]:
    """Orders/s while `manage.py snapshot` runs beside, measured over the time it is folding and
    writing (from its start, less the process's own start-up, to its end, at most `seconds`): (rate,
    seconds measured, what the snapshot printed)."""
    snapshotter = subprocess.Popen([sys.executable, "manage.py", "snapshot"], cwd=BASE_DIR,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(1.5)  # its Python and Django start-up: not yet the snapshot
    deadline = time.monotonic() + seconds
    done, elapsed = asyncio.run(drive(orders, senders, lambda: snapshotter.poll() is not None or
                                      time.monotonic() >= deadline))  # fmt: skip
    out, err = snapshotter.communicate(timeout=900)
    assert snapshotter.returncode == 0, err
    return done / elapsed, elapsed, out.strip().splitlines()[-1] if out.strip() else err


def reject_at_venue() -> None:
    """The held venue rejects every order it was given, so no run leaves live orders to the next."""
    order_ids = list(Order.objects.filter(account_id=ACCOUNT, status="pending_new").values_list("id", flat=True))
    at = time.time_ns()
    for first in range(0, len(order_ids), 2000):
        bus.send_many([cmd.ApplyExecutionReport(bus.new_command_id(), at, f"venue:{VENUE}", order_id,
                                                f"{VENUE}:R{order_id}", ExecType.REJECTED, text="bench over")
                       for order_id in order_ids[first:first + 2000]], timeout=120)  # fmt: skip


# -- the run ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the log before the snapshot")
    parser.add_argument("--tail", type=int, default=20_000, help="events appended after the snapshot")
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0, help="of each order rate measurement")
    parser.add_argument("--restarts", type=int, default=3, help="restarts from the snapshot (the median counts)")
    parser.add_argument("--rounds", type=int, default=3, help="order rate rounds (the median ratio counts)")
    args = parse_args(parser, events=20_000, tail=2_000, seconds=3.0, restarts=1, rounds=1)
    prepare_database()
    Account.objects.update_or_create(code=ACCOUNT, defaults={"name": "snapshot bench", "active": True})
    Venue.objects.update_or_create(name=VENUE, defaults={"port": 1, "target_comp_id": VENUE, "active": True})
    total = ensure_log(args.events)
    print(f"Snapshots: restart and order rate, on a log of {total:,} events")

    with tqdm(unit="ev", unit_scale=True, desc="snapshot", leave=False) as bar:
        taken = snapshots.snapshot_take(progress=bar.update)
    if taken is not None:
        s = taken.snapshot
        took = f"{taken.seconds:.1f}s, {s.size_bytes / 1e6:.1f} MB (encode + store {taken.encode_seconds:.1f}s)"
        row(f"snapshot taken at {s.position:,} ({s.orders:,} orders)", took)
    else:
        row("the newest snapshot is already at the end of the log", f"{store.last_position():,}")
    ensure_log(store.last_position() + args.tail)  # a tail after it
    end = store.last_position()

    stop_event = threading.Event()
    threading.Thread(target=hold_venue, args=(stop_event,), daemon=True).start()
    engine: subprocess.Popen | None = start_engine()
    try:
        wait_live(engine)
        meter = CpuMeter({})
        meter.start()
        restarts = []
        for _ in range(args.restarts):  # the median of a few: the machine is shared, and noisy
            engine, seconds, health = restart(engine)
            assert health["start"]["path"] == "snapshot" and health["last_position"] == end, health
            restarts.append((seconds, health))
        engine, full_seconds, full_health = restart(engine, "--full-replay")
        busy = meter.stop()
        assert full_health["last_position"] == end
        restarts.sort(key=lambda r: r[0])
        snap_seconds, snap_health = restarts[len(restarts) // 2]
        row(f"baseline: kill -9 -> live, {describe(full_health)}", f"{full_seconds:.2f}s "
            f"(replay {full_health['start']['seconds']:.2f}s), CPU {full_health['cpu_seconds']:.2f}s")  # fmt: skip
        restored = snap_health["start"]["seconds"]
        row(
            f"kill -9 -> live, {describe(snap_health)}, median of {len(restarts)}",
            f"{snap_seconds:.2f}s (snapshot + tail {restored:.2f}s), {full_seconds / snap_seconds:.1f}x faster",
        )
        row("  each", ", ".join(f"{seconds:.2f}s" for seconds, _ in restarts))
        read = snap_health["start"].get("decode_seconds", 0.0)
        row("  of which snapshot read / tail fold", f"{read:.2f}s / {restored - read:.2f}s")
        row("  of which process start, writer lock, reference data, bus", f"{snap_seconds - restored:.2f}s")
        row("  CPU time the new engine used until live", f"{snap_health['cpu_seconds']:.2f}s "
            f"(the full replay's: {full_health['cpu_seconds']:.2f}s)")  # fmt: skip
        row(f"goal: live within {GOAL_SECONDS:.0f}s of kill -9", "met" if snap_seconds <= GOAL_SECONDS else "NOT met")
        report_machine(busy)
        engine, _, _ = restart(engine)  # the order rate on the engine as it normally starts
        meter = CpuMeter({"engine": engine.pid, "senders (this bench)": os.getpid()})

        orders = Orders()
        rate_for(orders, args.senders, 1.0)  # warm-up
        meter.start()
        # Rounds of: without, with a snapshot being taken, without; each round's ratio is against
        # its own two baselines, so a machine that gets busier or quieter between rounds skews less.
        ratios = []
        for round_number in range(1, args.rounds + 1):
            before = rate_for(orders, args.senders, args.seconds)
            during, measured, printed = rate_while_snapshotting(orders, args.senders, args.seconds)
            after = rate_for(orders, args.senders, args.seconds)
            ratios.append(during / ((before + after) / 2))
            row(f"round {round_number}: baseline, {args.senders} senders, no snapshot",
                f"{before:,.0f} and {after:,.0f} orders/s")  # fmt: skip
            row(f"round {round_number}: while a snapshot is taken beside ({measured:.1f}s)",
                f"{during:,.0f} orders/s: {ratios[-1]:.2f}x")  # fmt: skip
            row("", printed[:110])
        busy = meter.stop()
        ratio = statistics.median(ratios)  # of an even number: the mean of the middle two
        row(f"goal: >= 0.9x without (median of {len(ratios)})", f"{ratio:.2f}x: {'met' if ratio >= 0.9 else 'NOT met'}")
        report_cpu(orders.count, busy)
        reject_at_venue()
    finally:
        stop_event.set()
        stop(engine)
        Venue.objects.filter(name=VENUE).update(active=False)


if __name__ == "__main__":
    main()
