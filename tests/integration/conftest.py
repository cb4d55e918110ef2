"""Integration fixtures: the real test database, the real bus and a real engine process.

The event log refuses TRUNCATE and DELETE, so the database is never flushed: tests share what
the engine commits for the whole session and keep apart by using fresh ClOrdIDs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from orders import bus
from orders.management.commands.load_demo_data import Command as DemoData

BASE_DIR = Path(__file__).resolve().parents[2]


def engine_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"


class EngineProcess:
    """`manage.py run_engine` against the test database, as `make run` starts it."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.log_path = BASE_DIR / "var" / "test" / "engine.log"

    # The order-core tests send the same order many times a second; the duplicate order check
    # (tests/integration/test_risk.py restarts the engine with the real default) would refuse them.
    ENV = {"OMS_RISK_DUPLICATE_MAX": "1000000"}

    def start(self, *extra: str, wait_live: bool = True, env: dict[str, str] | None = None) -> subprocess.Popen:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.ENV, **(env or {}), "DATABASE_URL": engine_database_url(), "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_engine", *extra], cwd=BASE_DIR, env=env, stdout=log, stderr=log
        )
        if wait_live:
            self.wait_live()
        return self.process

    def wait_live(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = bus.engine_health()
            if health and health["state"] == "live" and self.process and health["pid"] == self.process.pid:
                return
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"engine exited with {self.process.returncode}; see {self.log_path}")
            time.sleep(0.05)
        raise TimeoutError(f"engine not live after {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None
        bus.client().delete(bus.key("engine:health"))

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.start()


HELD_VENUE = "HELD"


@pytest.fixture(scope="session")
def db_ready(django_db_setup, django_db_blocker):
    """The migrated test database, open to every test (no per-test flush: see the module doc).

    Orders without a venue go to HELD: a venue whose session reads as logged on (a thread
    here says so, as a connector would) but where nothing ever answers, so they stay as the
    order core left them. The demo's simulated venues are switched off; the venue tests
    start their own simulators and connector and route to those by name.

    The order-core tests are about the order's life, not its risk: the demo accounts trade
    without limits here and every instrument's price band is wide (HELD quotes a last trade
    of 100 for each, so there is a fresh reference). The risk tests make their own accounts
    and set limits and bands through the engine, as a risk officer would."""
    from orders.models import Instrument
    from risk.models import AccountLimits, SymbolLimits
    from venues.models import Venue

    with django_db_blocker.unblock():
        DemoData().handle()
        AccountLimits.objects.all().delete()
        SymbolLimits.objects.all().delete()
        Instrument.objects.update(price_band_pct=WIDE_BAND_PCT)
        Venue.objects.update(active=False, default=False)
        Venue.objects.update_or_create(
            name=HELD_VENUE, defaults={"port": 1, "target_comp_id": HELD_VENUE, "active": True, "default": True}
        )
        stop = threading.Event()
        symbols = list(Instrument.objects.values_list("symbol", flat=True))
        threading.Thread(target=_hold_session, args=(stop, symbols), daemon=True).start()
        yield
        stop.set()


WIDE_BAND_PCT = 1000  # a limit price within 11x the reference passes
HELD_LAST_TRADE = 100


def _hold_session(stop: threading.Event, symbols: list[str]) -> None:
    from orders import venue_feed

    while not stop.is_set():
        try:
            venue_feed.publish(HELD_VENUE, venue_feed.LOGGED_ON)
            for symbol in symbols:
                venue_feed.publish_book(HELD_VENUE, symbol, [], [], last=Decimal(HELD_LAST_TRADE))
        except Exception:
            pass  # Redis restarting under a test: the next beat puts it back
        stop.wait(0.5)


def pytest_collection_modifyitems(items):
    # Each test runs in a transaction that is rolled back (pytest-django), so what a test
    # writes itself is undone; what the engine commits from its own process stays.
    for item in items:
        if "integration" in item.nodeid.split("/"):
            item.add_marker(pytest.mark.django_db)


@pytest.fixture(autouse=True)
def fresh_edge_cache():
    """The web's cache of tokens and reference data (orders.edge) starts each test empty: what an
    earlier test wrote was rolled back without a signal, and fixtures change rows with .update()."""
    from orders import edge

    edge.cache.clear()
    yield
    edge.cache.clear()


@pytest.fixture(scope="session")
def clean_bus():
    client = bus.client()
    for key in client.scan_iter(f"{settings.OMS_BUS_PREFIX}:*"):
        client.delete(key)
    return client


@pytest.fixture(scope="session")
def engine_process(db_ready, clean_bus, django_db_blocker):
    engine = EngineProcess()
    engine.start()
    yield engine
    engine.stop()
    with django_db_blocker.unblock():
        connection.close()


@pytest.fixture
def engine(engine_process):
    """A live engine; a test that kills or stops it leaves it restarted for the next one."""
    engine_process.ensure_running()
    yield engine_process
    engine_process.ensure_running()


@pytest.fixture
def trader(db_ready):
    return get_user_model().objects.get(username="trader")


@pytest.fixture
def api(trader) -> APIClient:
    client = APIClient()
    client.force_authenticate(trader)
    return client


@pytest.fixture
def outsider(db_ready):
    """A user with an account of their own and no grant on the demo accounts."""
    from orders.models import Account

    User = get_user_model()
    user, _ = User.objects.get_or_create(username="outsider")
    account, _ = Account.objects.get_or_create(code="OUTSIDE", defaults={"name": "Someone else's book"})
    account.users.add(user)
    client = APIClient()
    client.force_authenticate(user)
    return client


def new_cl_ord_id(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
