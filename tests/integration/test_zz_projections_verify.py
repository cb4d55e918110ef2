"""Runs after the other integration scenarios (file order): the live projections must equal a
rebuild from the log, row for row, both through the service and the management command."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import BASE_DIR, engine_database_url

from orders import rebuild
from orders.models import Order


def test_live_projections_equal_a_rebuild_from_the_log(engine):
    assert Order.objects.exists(), "the scenarios before this one should have made orders"
    replayed, differences = rebuild.verify()
    assert replayed == rebuild.event_count()
    assert [d.describe() for d in differences] == []


def test_verify_command_exits_0_when_clean_and_reports_a_tampered_projection(engine):
    env = {**os.environ, "DATABASE_URL": engine_database_url()}
    clean = subprocess.run(
        [sys.executable, "manage.py", "rebuild_projections", "--verify"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "projections match the log" in clean.stdout


def test_verify_finds_a_tampered_row(engine, django_db_blocker):
    order = Order.objects.order_by("id").first()
    Order.objects.filter(id=order.id).update(cum_qty=order.cum_qty + 1)  # rolled back after the test
    _, differences = rebuild.verify()
    described = [d.describe() for d in differences]
    assert len(differences) == 1
    assert f"orders_order {order.id}: cum_qty" in described[0]


def test_verify_command_exits_1_and_names_a_committed_difference(engine):
    """Tamper with a projection row for real (committed, from another connection), then undo it."""
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    order = Order.objects.order_by("id").first()
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True) as raw:
        raw.execute("UPDATE orders_order SET cum_qty = cum_qty + 1 WHERE id = %s", [order.id])
        try:
            env = {**os.environ, "DATABASE_URL": engine_database_url()}
            result = subprocess.run([sys.executable, "manage.py", "rebuild_projections", "--verify"], cwd=BASE_DIR,
                                    env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
        finally:
            raw.execute("UPDATE orders_order SET cum_qty = cum_qty - 1 WHERE id = %s", [order.id])
    assert result.returncode == 1
    assert f"orders_order {order.id}: cum_qty" in result.stdout
