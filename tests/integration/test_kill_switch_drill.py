"""`manage.py kill_switch_drill` over the real stack: the engine, two simulated venues over FIX and
the connector, the command run as an operator runs it (its own process)."""

from __future__ import annotations

import pytest
from venue_stack import Connector, Simulator, manage

from orders.models import Event, Order
from risk.models import KillSwitch
from venues.models import Venue

DRILL_VENUES = ("KDA", "KDB")
SYMBOLS = ("AAPL", "MSFT")  # the simulators list the demo instruments; HELD quotes their reference


@pytest.fixture(scope="module")
def drill_venues(engine_process, django_db_blocker):
    """Two simulated venues with an empty book (nothing fills) and the connector to them."""
    with django_db_blocker.unblock():
        simulators = [Simulator(name, "--no-liquidity") for name in DRILL_VENUES]
        for sim in simulators:
            sim.start()
            Venue.objects.update_or_create(
                name=sim.name, defaults={"port": sim.port, "target_comp_id": sim.name, "active": True}
            )
        connector = Connector(list(DRILL_VENUES), resync_seconds=3)
        connector.start()
        connector.wait_logged_on()
        try:
            yield simulators
        finally:
            connector.stop()
            for sim in simulators:
                sim.stop()
            Venue.objects.filter(name__in=DRILL_VENUES).update(active=False)


def drill(*extra: str):
    venues = [a for v in DRILL_VENUES for a in ("--venue", v)]
    symbols = [a for s in SYMBOLS for a in ("--symbol", s)]
    return manage("kill_switch_drill", "--orders", "50", "--as", "risk", *venues, *symbols, *extra, timeout=120)


def test_the_drill_cancels_every_order_at_the_venues_and_releases_the_firm_switch(drill_venues):
    last_before = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0

    run = drill()

    assert run.returncode == 0, run.stdout + run.stderr
    assert "placed 50/50" in run.stdout  # progress while placing
    assert "every one of 50 live orders canceled at the venues within" in run.stdout, run.stdout
    assert "via mass cancel: 50 (2 OrderMassCancelRequest 35=q sent); one by one (35=F): 0" in run.stdout
    assert "firm kill switch released" in run.stdout
    ours = list(Order.objects.filter(account_id="DRILL", id__gt=last_before))
    assert len(ours) == 50
    assert {o.status for o in ours} == {"canceled"}
    assert {o.venue for o in ours} == set(DRILL_VENUES) and {o.symbol for o in ours} == set(SYMBOLS)
    canceled_by = Event.objects.filter(stream_id__in=[o.id for o in ours], event_type="OrderCanceled")
    assert set(canceled_by.values_list("actor", flat=True)) == {f"venue:{v}" for v in DRILL_VENUES}
    firm = KillSwitch.objects.get(scope="firm", target="")
    assert not firm.engaged and firm.engage_reason == "drill" and firm.released_by == "user:risk"


def test_the_drill_refuses_a_user_without_the_risk_role(drill_venues):
    run = drill("--as", "trader")

    assert run.returncode != 0
    assert "risk.manage_risk" in run.stderr
    assert not KillSwitch.objects.filter(scope="firm", engaged=True).exists()


def test_the_drill_refuses_to_run_in_production_without_force(drill_venues):
    production = {"OMS_ENV": "production", "DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "not-the-dev-key"}
    run = manage("kill_switch_drill", "--as", "risk", timeout=60, env=production)

    assert run.returncode != 0
    assert "refused with OMS_ENV=production" in run.stderr, run.stderr
