"""quickfix settings: strict by default, each relaxation named and per session, the day's boundary."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from venues.fix.config import SessionSpec, session_times, settings_text


def sections(text: str) -> list[list[str]]:
    """[DEFAULT] then each [SESSION], as lists of their lines."""
    return [[line for line in part.splitlines()[1:] if line] for part in text.split("\n\n")]


def write(*specs: SessionSpec, day_start: time = time(0)) -> list[list[str]]:
    return sections(settings_text(acceptor=True, port=1, sessions=list(specs), state_dir=Path("/x"),
                                  day_start=day_start))  # fmt: skip


def test_every_check_is_on_and_nothing_resets_at_logon_by_default():
    default, session = write(SessionSpec("US", "THEM"))
    for line in ("CheckLatency=Y", "MaxLatency=120", "ValidateFieldsOutOfOrder=Y", "ValidateUserDefinedFields=Y",
                 "AllowUnknownMsgFields=N", "FileStorePath=/x/store"):  # fmt: skip
        assert line in default
    assert not [line for line in default + session if line.startswith("Reset")]
    assert session == ["SenderCompID=US", "TargetCompID=THEM"]


def test_each_relaxation_is_written_into_its_own_session_only():
    relaxed = SessionSpec("US", "OLD", max_latency_seconds=None, allow_fields_out_of_order=True,
                          allow_user_defined_fields=True, reset_on_logon=True)  # fmt: skip
    _, strict, loose = write(SessionSpec("US", "NEW"), relaxed)
    assert strict == ["SenderCompID=US", "TargetCompID=NEW"]
    assert loose[2:] == ["CheckLatency=N", "ValidateFieldsOutOfOrder=N", "ValidateUserDefinedFields=N",
                         "ResetOnLogon=Y", "ResetOnLogout=Y", "ResetOnDisconnect=Y"]  # fmt: skip
    _, wider = write(SessionSpec("US", "FAR", max_latency_seconds=300))
    assert wider[2:] == ["MaxLatency=300"]


@pytest.mark.parametrize(
    ("day_start", "start", "end"),
    [
        (time(0), "00:00:00", "23:59:59"),
        (time(21, 30), "21:30:00", "21:29:59"),
        (time(0, 0, 1), "00:00:01", "00:00:00"),
    ],
)
def test_the_session_runs_all_day_and_resets_at_its_start(day_start, start, end):
    assert session_times(day_start) == (start, end)
    default = write(SessionSpec("US", "THEM"), day_start=day_start)[0]
    assert f"StartTime={start}" in default and f"EndTime={end}" in default
