"""Shared set-up for benchmarks: Django against the `bench` embedded services, the parts of the
stack a bench starts (the engine; simulated venues and the connector, which make orders
routable), how busy the machine was meanwhile, and helpers.

Logs and FIX state go under var/<profile>/ (`bench`, or `bench-quick` for `make bench QUICK=1`).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_project.settings")
os.environ.setdefault("OMS_SERVICES_PROFILE", "bench")
os.environ.setdefault("OMS_BUS_PREFIX", "oms-bench")

import django  # noqa: E402
import psycopg  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

VAR = BASE_DIR / "var" / settings.SERVICES.profile  # the embedded PostgreSQL's and Valkey's, and the benches'


def prepare_database() -> None:
    call_command("migrate", "--no-input", verbosity=0)
    call_command("load_demo_data", verbosity=0)


def raw_connection() -> psycopg.Connection:
    """A psycopg connection of its own to the bench database, outside Django: for the baselines."""
    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])


def parse_args(parser: argparse.ArgumentParser, **quick: object) -> argparse.Namespace:
    """The bench's arguments, with `--quick` (`make bench QUICK=1`): the sizes in `quick` instead of
    the full run's, unless given on the command line. The figures still print beside their baselines."""
    sizes = ", ".join(f"{name}={value}" for name, value in quick.items())
    parser.add_argument("--quick", action="store_true", help=f"small sizes, a run of seconds: {sizes}")
    if parser.parse_known_args()[0].quick:
        parser.set_defaults(**quick)
    return parser.parse_args()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def summary_ms(latencies: list[float]) -> str:
    return (
        f"p50 {percentile(latencies, 0.50) * 1000:.2f} ms  p99 {percentile(latencies, 0.99) * 1000:.2f} ms  "
        f"mean {statistics.fmean(latencies) * 1000:.2f} ms"
    )


def row(label: str, value: str) -> None:
    print(f"  {label:<52} {value}", flush=True)


# -- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def spawn(*args: str, log: str) -> subprocess.Popen:
    """`python *args` in the project, its output appended to var/<profile>/`log`."""
    VAR.mkdir(parents=True, exist_ok=True)
    out = open(VAR / log, "a")
    return subprocess.Popen([sys.executable, *args], cwd=BASE_DIR, stdout=out, stderr=out,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip


def stop(*processes: subprocess.Popen | None, timeout: float = 60) -> None:
    """SIGTERM to each still running, then wait for them all; one that does not stop in time is killed."""
    running = [p for p in processes if p is not None and p.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class EngineProcess:
    """`manage.py run_engine` (or `command`, a script that runs it) until it reports live."""

    LOG = "bench-engine.log"

    def __init__(self, *command: str) -> None:
        self.command = command or ("manage.py", "run_engine")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> EngineProcess:
        from orders import bus

        self.process = spawn(*self.command, log=self.LOG)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            health = bus.engine_health()
            if health and health["state"] == "live" and health["pid"] == self.process.pid:
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"engine exited; see {VAR / self.LOG}")
            time.sleep(0.05)
        stop(self.process)
        raise TimeoutError("engine not live")

    def __exit__(self, *exc: object) -> None:
        stop(self.process)


def run_name(prefix: str) -> str:
    """A venue name of this run's own (the prefix and a number from the clock): the orders an
    earlier run left live at a venue would otherwise be resynced by this run's connector (the
    simulator has forgotten them) while it measures."""
    return f"{prefix}{int(time.time()) % 100_000}"


class Venues:
    """Simulated venues (`manage.py run_venue`, with their market makers, whose books give the
    engine its reference prices) and the connector logged on to them (`run_venues`), as `make run`
    starts them: what makes an order routable. Without them the engine rejects it
    `venue_unavailable` (no session), or `no_reference` (nothing to check its price against).

    `venues`: name -> `run_venue` options (seed, spread, depth). The venues start on entry;
    `connect()` starts the connector, with `connector_args`, and waits until every session is
    logged on (the engine need not run for that). On exit the connector stops, then the venues,
    and they are switched off in the Venue table."""

    def __init__(self, venues: dict[str, tuple[str, ...]], *, log: str, connector_args: tuple[str, ...] = ()) -> None:
        self.options = venues
        self.log = log
        self.connector_args = connector_args
        self.processes: dict[str, subprocess.Popen] = {}
        self.connector: subprocess.Popen | None = None

    @property
    def names(self) -> list[str]:
        return list(self.options)

    def __enter__(self) -> Venues:
        from venues.models import Venue

        try:
            for name, options in self.options.items():
                port = free_port()
                Venue.objects.update_or_create(name=name, defaults={"port": port, "target_comp_id": name,
                                                                    "active": True})  # fmt: skip
                self.processes[name] = spawn("manage.py", "run_venue", "--name", name, "--port", str(port), *options,
                                             log=f"{self.log}-venue.log")  # fmt: skip
                wait_port(port)
        except BaseException:
            self.__exit__()
            raise
        return self

    def connect(self, timeout: float = 60) -> None:
        from orders import venue_feed

        names = [arg for name in self.names for arg in ("--venue", name)]
        self.connector = spawn("manage.py", "run_venues", *names, *self.connector_args,
                               log=f"{self.log}-connector.log")  # fmt: skip
        deadline = time.monotonic() + timeout
        while any(s["state"] != venue_feed.LOGGED_ON for s in venue_feed.read(self.names).values()):
            assert self.connector.poll() is None, f"the connector exited; see {VAR / self.log}-connector.log"
            assert time.monotonic() < deadline, "the connector did not log on"
            time.sleep(0.1)

    def pids(self) -> dict[str, int]:
        """The connector's and the venues' processes, for CpuMeter."""
        pids = {"connector": self.connector.pid} if self.connector is not None else {}
        if len(self.processes) == 1:
            return {**pids, "venue": next(iter(self.processes.values())).pid}
        return {**pids, **{f"venue {name}": p.pid for name, p in self.processes.items()}}

    def __exit__(self, *exc: object) -> None:
        from venues.models import Venue

        stop(self.connector)
        stop(*self.processes.values())
        Venue.objects.filter(name__in=self.names).update(active=False)


def resting_price(symbol: str = "AAPL", under: Decimal = Decimal("0.95")) -> Decimal:
    """`under` the engine's fresh reference for `symbol` (5% under: inside the price band, and a buy
    there rests rather than fills). Needs the engine running: it publishes the references."""
    from orders import references

    deadline = time.monotonic() + 60
    while not (reference := _fresh(references.read().get(symbol, {}))):
        assert time.monotonic() < deadline, f"no reference price for {symbol} from the venue's market data"
        time.sleep(0.1)
    return (Decimal(reference) * under).quantize(Decimal("0.01"))


def _fresh(quote: dict) -> str | None:
    return quote.get("reference") if quote.get("age_s") is not None and quote["age_s"] < 5 else None


# -- how busy the machine was -----------------------------------------------------------------------


class CpuMeter:
    """CPU time each part of the stack used between `start` and `stop` (its threads and, for
    PostgreSQL, its backends), and how busy the machine was: what the orders/s are bound by, and
    how much of the machine other work took (the machine is shared)."""

    TICKS = os.sysconf("SC_CLK_TCK")

    def __init__(self, parts: dict[str, int]) -> None:
        self.processes = parts
        self.parts: dict[str, list[int]] = {}

    def start(self) -> None:
        self.parts = {name: [pid] for name, pid in self.processes.items()}
        if (postmaster := _pid(VAR / "pgdata" / "postmaster.pid")) is not None:
            self.parts["PostgreSQL"] = [postmaster, *(pid for pid, parent in _processes() if parent == postmaster)]
        if (valkey := _pid(VAR / "valkey" / "valkey.pid")) is not None:
            self.parts["Valkey"] = [valkey]
        self._started = time.monotonic(), _machine_busy(), {name: self._cpu(pids) for name, pids in self.parts.items()}

    def stop(self) -> tuple[float, float, dict[str, float]]:
        """(seconds, machine CPU busy over them in cores, {part: CPU seconds})."""
        at, busy, cpu = self._started
        elapsed = time.monotonic() - at
        used = {name: self._cpu(pids) - cpu[name] for name, pids in self.parts.items()}
        return elapsed, (_machine_busy() - busy) / elapsed, used

    def _cpu(self, pids: list[int]) -> float:
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self.TICKS


def report_cpu(orders: int, cpu: tuple[float, float, dict[str, float]]) -> None:
    """CPU each part used per order over the measurement, then how busy the machine was."""
    used = cpu[2]
    row("  CPU per order meanwhile", f"{sum(used.values()) / orders * 1000:.2f} ms: " + ", ".join(
        f"{name} {seconds / orders * 1000:.2f}" for name, seconds in used.items()))  # fmt: skip
    report_machine(cpu)


def report_machine(cpu: tuple[float, float, dict[str, float]]) -> None:
    """How busy the machine was, and how much of it was the stack: other work skews the figures."""
    elapsed, busy, used = cpu
    row("  the machine's cores busy meanwhile", f"{busy:.2f} of {os.cpu_count()}, "
        f"of which this stack {sum(used.values()) / elapsed:.2f}")  # fmt: skip


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except FileNotFoundError:
        return None  # not the embedded services


def _processes() -> list[tuple[int, int]]:
    """(pid, parent pid) of every process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            found.append((int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def _machine_busy() -> float:
    """CPU seconds the machine's cores have spent busy (not idle, not waiting on I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CpuMeter.TICKS
