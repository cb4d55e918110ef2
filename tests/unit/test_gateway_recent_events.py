"""The gateway's shared read of the log: the session tailers each ask for the events after their
position; the database is read once for all of them, and a tailer far behind reads it alone."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.fix import outbound
from gateway.fix.outbound import RecentEvents


@dataclass
class Stored:
    position: int


class FakeLog:
    """The events table as positions 1..last; every read of it is counted."""

    def __init__(self) -> None:
        self.last = 0
        self.reads: list[int] = []  # the `after` of each read

    def commit(self, count: int) -> None:
        self.last += count

    def read(self, after: int, limit: int) -> list[Stored]:
        self.reads.append(after)
        return [Stored(p) for p in range(after + 1, min(self.last, after + limit) + 1)]


@pytest.fixture
def log(monkeypatch) -> FakeLog:
    fake = FakeLog()
    monkeypatch.setattr(outbound, "read_log", fake.read)
    return fake


def positions(events) -> list[int]:
    return [e.position for e in events]


def test_tailers_at_the_same_place_read_the_database_once(log):
    recent = RecentEvents()
    log.commit(3)
    for _ in range(10):
        assert positions(recent.read(0, 1000)) == [1, 2, 3]
    assert log.reads == [0]
    log.commit(2)
    assert positions(recent.read(3, 1000)) == [4, 5]  # the first to ask reads the new events
    assert positions(recent.read(1, 1000)) == [2, 3, 4, 5]  # one behind gets them from memory
    assert positions(recent.read(3, 1)) == [4]  # at most `limit`
    assert log.reads == [0, 3]


def test_a_tailer_behind_what_is_kept_reads_the_database_itself(log):
    recent = RecentEvents(keep=2)
    log.commit(3)
    recent.read(0, 1000)
    log.commit(3)
    recent.read(3, 1000)  # six kept: more than twice `keep`, so all but the last two are let go
    assert positions(recent.read(4, 1000)) == [5, 6]
    assert log.reads == [0, 3]
    assert positions(recent.read(2, 1000)) == [3, 4, 5, 6]
    assert log.reads == [0, 3, 2]


def test_a_tailer_ahead_of_what_is_kept_starts_it_again_where_it_is(log):
    recent = RecentEvents()
    log.commit(3)
    recent.read(0, 1000)
    log.commit(5)
    assert positions(recent.read(6, 1000)) == [7, 8]
    assert positions(recent.read(6, 1000)) == [7, 8]
    assert log.reads == [0, 6]
