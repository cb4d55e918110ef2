"""Snapshot retention: snapshots are never changed, and deleted only by the prune (the newest
`keep`, and each earlier day's last, stay), which the table's own triggers enforce."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from orders import snapshots
from orders.models import SNAPSHOT_PRUNE_SETTING, Snapshot


def add(position: int, days_ago: int = 0, hours_ago: int = 0) -> int:
    """A snapshot row at `position`, taken `days_ago` days (and `hours_ago` hours) before today's
    noon (never across midnight, whenever the test runs)."""
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    at = noon - timedelta(days=days_ago, hours=hours_ago)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO snapshots (position, schema_version, compression, checksum, payload, size_bytes, orders, "
            "tail_events, based_on, took_ms, created_at) VALUES (%s, 1, 'zlib', 'x', '\\x00', 1, 0, 0, NULL, 0, %s) "
            "RETURNING id",
            [position, at],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def fresh():
    """Only this test's snapshots (in its rolled-back transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL {SNAPSHOT_PRUNE_SETTING} = 'on'")
        cursor.execute("DELETE FROM snapshots WHERE id <> (SELECT id FROM snapshots ORDER BY position DESC, id DESC "
                       "LIMIT 1)")  # fmt: skip
        cursor.execute(f"SET LOCAL {SNAPSHOT_PRUNE_SETTING} = 'off'")
    base = (Snapshot.objects.order_by("-position").values_list("position", flat=True).first() or 0) + 1_000_000
    return base


@pytest.mark.parametrize(
    "statement",
    ["UPDATE snapshots SET orders = 0 WHERE id = %(id)s", "DELETE FROM snapshots WHERE id = %(id)s",
     "DELETE FROM snapshots", "TRUNCATE snapshots"],
)  # fmt: skip
def test_raw_sql_cannot_change_or_remove_snapshots(statement, fresh):
    add(fresh)
    old = add(fresh + 1)
    add(fresh + 2)
    with connection.cursor() as cursor, pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        cursor.execute(statement, {"id": old})
    assert Snapshot.objects.filter(id=old).exists()


def test_not_even_the_prune_may_change_a_snapshot_or_delete_the_newest(fresh):
    add(fresh)
    newest = add(fresh + 1)
    with connection.cursor() as cursor:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute(f"SET LOCAL {SNAPSHOT_PRUNE_SETTING} = 'on'")
            cursor.execute("UPDATE snapshots SET orders = 1 WHERE id = %s", [newest])
        with pytest.raises(DatabaseError, match="newest snapshot"), transaction.atomic():
            cursor.execute(f"SET LOCAL {SNAPSHOT_PRUNE_SETTING} = 'on'")
            cursor.execute("DELETE FROM snapshots WHERE position >= %s", [fresh])
    assert Snapshot.objects.filter(position__gte=fresh).count() == 2


def test_the_prune_keeps_the_newest_and_each_earlier_days_last(fresh):
    # newest first: four today, two yesterday, one three days ago, two ten days ago
    today = [add(fresh + 90, hours_ago=0), add(fresh + 80), add(fresh + 70), add(fresh + 60)]
    add(fresh + 50, days_ago=1)
    add(fresh + 40, days_ago=1, hours_ago=1)
    add(fresh + 30, days_ago=3)
    add(fresh + 20, days_ago=10)
    add(fresh + 10, days_ago=10, hours_ago=1)
    assert today

    dry = snapshots.snapshot_prune(keep=3, keep_days=7, dry_run=True)
    assert Snapshot.objects.filter(position__gte=fresh).count() == 9  # a dry run deletes nothing
    pruned = snapshots.snapshot_prune(keep=3, keep_days=7)

    assert pruned == dry
    mine = [p - fresh for p in pruned.kept if p >= fresh]
    assert mine == [90, 80, 70, 50, 30]  # the newest three, yesterday's last, three days ago's
    assert [p - fresh for p in pruned.deleted if p >= fresh] == [60, 40, 20, 10]
    assert sorted(Snapshot.objects.filter(position__gte=fresh).values_list("position", flat=True)) == sorted(
        p + fresh for p in mine
    )


def test_the_command_prunes_and_refuses_a_bad_keep(fresh, capsys):
    for k in range(5):
        add(fresh + k)
    call_command("prune_snapshots", "--keep", "2", "--keep-days", "0")
    assert "deleted" in capsys.readouterr().out
    assert sorted(Snapshot.objects.filter(position__gte=fresh).values_list("position", flat=True)) == [
        fresh + 3, fresh + 4
    ]  # fmt: skip
    with pytest.raises(Exception, match="at least 1"):
        call_command("prune_snapshots", "--keep", "0")
