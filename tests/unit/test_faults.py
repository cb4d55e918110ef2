"""The simulated venue's fault injection policy, and its loader against a fake Redis."""

from __future__ import annotations

import json
import logging

import pytest

from venues.simulator.faults import (
    NO_FAULTS,
    FaultLoader,
    FaultSettings,
    FaultSettingsError,
    SessionFaults,
    parse_settings,
)


def test_no_value_means_no_faults():
    assert parse_settings(None) is NO_FAULTS and parse_settings("  ") is NO_FAULTS


def test_settings_are_keyed_by_their_id_or_else_their_text():
    assert parse_settings('{"id": "a", "drop_exec_reports": 2}') == FaultSettings(key="a", drop_exec_reports=2)
    raw = '{"reject_all": true, "delay_ms": 50}'
    assert parse_settings(raw) == FaultSettings(key=raw, reject_all=True, delay_ms=50)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"drop_exec_report": 1}',  # a typo is refused, not ignored
        '{"drop_exec_reports": -1}',
        '{"drop_exec_reports": true}',
        '{"delay_ms": 1.5}',
        '{"reject_all": "yes"}',
        '{"id": ["x"]}',
    ],
)
def test_unusable_settings_are_refused(raw):
    with pytest.raises(FaultSettingsError):
        parse_settings(raw)


def faults(**knobs) -> SessionFaults:
    session = SessionFaults()
    session.apply(FaultSettings(**knobs))
    return session


def test_drop_takes_the_next_n_reports_then_none():
    session = faults(key="a", drop_exec_reports=2)
    assert [session.take_drop() for _ in range(4)] == [True, True, False, False]


def test_the_drop_count_restarts_with_new_settings_but_not_with_the_same_again():
    session = faults(key="a", drop_exec_reports=1)
    assert session.take_drop()
    session.apply(NO_FAULTS)
    session.apply(FaultSettings(key="a", drop_exec_reports=1))  # the same id again, after a pause
    assert not session.take_drop()
    session.apply(FaultSettings(key="b", drop_exec_reports=1))
    assert session.take_drop() and not session.take_drop()


def test_disconnect_happens_once_per_id():
    session = faults(key="a", disconnect=True)
    assert [session.take_disconnect() for _ in range(3)] == [True, False, False]
    session.apply(FaultSettings(key="b", disconnect=True))
    assert session.take_disconnect()
    session.apply(FaultSettings(key="c"))
    assert not session.take_disconnect()


def test_one_in_n_drops_and_duplicates_every_nth_report():
    session = faults(key="a", drop_one_in=5, duplicate_one_in=5)
    fates = []
    for _ in range(20):
        fates.append("drop" if session.take_drop() else session.take_copies())
    assert fates.count("drop") == 4 and fates.count(2) == 4 and fates.count(1) == 12
    assert [i for i, fate in enumerate(fates) if fate == "drop"] == [4, 9, 14, 19]


def test_disconnect_every_m_ms_comes_round_again_and_stops_when_unset():
    session = faults(key="a", disconnect_every_ms=2000)
    assert [session.take_disconnect(t) for t in (0.0, 1.0, 2.0, 3.0, 4.5)] == [False, False, True, False, True]
    session.apply(FaultSettings(key="b"))
    assert not session.take_disconnect(10.0)


def test_duplicates_and_delay():
    assert faults(duplicate_exec_reports=True).take_copies() == 2 and SessionFaults().take_copies() == 1
    assert faults(delay_ms=250).delay_seconds == 0.25


class FakeRedis:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.down = False
        self.writes = 0

    def mget(self, keys: list[str]) -> list[str | None]:
        if self.down:
            raise ConnectionError("Redis is down")
        return [self.data.get(k) for k in keys]

    def set(self, name: str, value: str) -> None:
        if self.down:
            raise ConnectionError("Redis is down")
        self.writes += 1
        self.data[name] = value


def loader(redis: FakeRedis) -> FaultLoader:
    return FaultLoader("XSIM", redis, key=lambda name: f"oms-t:{name}")


def test_the_loader_reads_each_sessions_key_and_marks_what_it_loaded():
    redis = FakeRedis()
    redis.data["oms-t:venue:XSIM:faults:OMS"] = json.dumps({"id": "f1", "reject_all": True})
    loaded = loader(redis).load(["OMS", "CPTY"])
    assert loaded == {"OMS": FaultSettings(key="f1", reject_all=True), "CPTY": NO_FAULTS}
    assert redis.data["oms-t:venue:XSIM:faults:OMS:loaded"] == "f1"
    assert redis.data["oms-t:venue:XSIM:faults:CPTY:loaded"] == ""


def test_the_loader_marks_only_changes():
    redis = FakeRedis()
    faults_loader = loader(redis)
    faults_loader.load(["OMS"])
    writes = redis.writes
    faults_loader.load(["OMS"])
    assert redis.writes == writes
    redis.data["oms-t:venue:XSIM:faults:OMS"] = '{"id": "f2"}'
    faults_loader.load(["OMS"])
    assert redis.writes == writes + 1


def test_an_unreadable_redis_means_no_faults_logged_once(caplog):
    redis = FakeRedis()
    redis.data["oms-t:venue:XSIM:faults:OMS"] = '{"reject_all": true}'
    faults_loader = loader(redis)
    redis.down = True
    with caplog.at_level(logging.WARNING, logger="oms.simulator.faults"):
        assert faults_loader.load(["OMS"]) == {"OMS": NO_FAULTS}
        assert faults_loader.load(["OMS"]) == {"OMS": NO_FAULTS}
    assert len([r for r in caplog.records if "unreadable" in r.message]) == 1
    redis.down = False
    assert faults_loader.load(["OMS"])["OMS"].reject_all


def test_unusable_settings_mean_no_faults_logged_once(caplog):
    redis = FakeRedis()
    redis.data["oms-t:venue:XSIM:faults:OMS"] = '{"rejectall": true}'
    faults_loader = loader(redis)
    with caplog.at_level(logging.WARNING, logger="oms.simulator.faults"):
        assert faults_loader.load(["OMS"]) == {"OMS": NO_FAULTS}
        assert faults_loader.load(["OMS"]) == {"OMS": NO_FAULTS}
    assert len([r for r in caplog.records if "ignored" in r.message]) == 1


def test_a_bust_happens_once_per_id():
    session = faults(key="a", bust_next_fill=True)
    assert [session.take_bust() for _ in range(3)] == [True, False, False]
    session.apply(FaultSettings(key="b", bust_next_fill=True))
    assert session.take_bust()


def test_a_symbol_limits_the_drops_to_its_reports():
    session = faults(key="a", drop_exec_reports=1, symbol="NVDA")
    assert not session.take_drop("AAPL")  # another order's report: neither dropped nor counted
    assert session.take_drop("NVDA") and not session.take_drop("NVDA")
