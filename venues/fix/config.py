"""quickfix session settings, written from our own configuration (never hand-edited files).

Two things every session here has, unless a `SessionSpec` relaxes them by name:

- Sequence numbers kept for the trading day. The FileStore under the process's state dir holds
  them and every message sent, across logons, disconnects and restarts, so a reconnect recovers
  what either side missed with ResendRequest (35=2) and SequenceReset-GapFill (35=4). quickfix
  resets them only at the day boundary (`day_start`, UTC), given as its StartTime and EndTime.
- Strict session-layer validation, as real venues do it: a SendingTime (52) more than
  `max_latency_seconds` from our clock gets a Reject (35=3, 373=10) and a Logout; header, body
  and trailer fields out of order a Reject 373=14; a tag the FIX44.xml dictionary does not
  define (user-defined ones, 5000 and up, included) a Reject 373=0. None of these reach the
  application.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import quickfix as fix

MAX_LATENCY_SECONDS = 120  # quickfix's own default, and the FIX session profile's


def data_dictionary() -> Path:
    """FIX44.xml as the quickfix package installs it, under the environment's share/quickfix."""
    path = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"
    if not path.exists():
        raise FileNotFoundError(f"quickfix's FIX44.xml is not at {path}; reinstall quickfix")
    return path


@dataclass(frozen=True)
class SessionSpec:
    sender: str  # 49 SenderCompID: us
    target: str  # 56 TargetCompID: them
    # An initiator session of its own address (one initiator, a session per venue); None: the default's.
    host: str | None = None
    port: int | None = None
    heartbeat_seconds: int | None = None
    # Relaxations, one per check, for a counterparty that cannot meet it (docs/operations.md):
    max_latency_seconds: int | None = MAX_LATENCY_SECONDS  # None: any SendingTime (52) is accepted
    allow_fields_out_of_order: bool = False  # header/body/trailer mixed (else Reject 373=14)
    allow_user_defined_fields: bool = False  # tags >= 5000 the dictionary lacks (else Reject 373=0)
    # Sequence numbers start at 1 at every logon, logout and disconnect: nothing is ever resent.
    # For test tools and conformance scripts only; a trading session keeps its day.
    reset_on_logon: bool = False


def parse_day_start(text: str) -> time:
    """A time of day "HH:MM:SS", UTC, as OMS_FIX_SESSION_START gives it."""
    return time.fromisoformat(text)


def session_times(day_start: time) -> tuple[str, str]:
    """quickfix's StartTime and EndTime for a session that runs all day and resets at `day_start`.

    EndTime is one second before StartTime: with the two equal quickfix would compare calendar
    dates, i.e. reset at midnight whatever StartTime says."""
    start = datetime.combine(datetime.min.date() + timedelta(days=1), day_start.replace(microsecond=0))
    end = start - timedelta(seconds=1)
    return f"{start:%H:%M:%S}", f"{end:%H:%M:%S}"


def settings_text(
    *,
    acceptor: bool,
    port: int | None,
    sessions: list[SessionSpec],
    state_dir: Path,
    host: str = "127.0.0.1",
    heartbeat_seconds: int = 10,
    reconnect_seconds: int = 2,
    day_start: time = time(0),
) -> str:
    """Settings for one acceptor or initiator. `state_dir` holds the FileStore (`store/`) and the
    FIX logs (`log/`): reuse it across restarts, or the day's sequence numbers are lost."""
    start_time, end_time = session_times(day_start)
    lines = [
        "[DEFAULT]",
        f"ConnectionType={'acceptor' if acceptor else 'initiator'}",
        "BeginString=FIX.4.4",
        f"StartTime={start_time}",
        f"EndTime={end_time}",
        f"HeartBtInt={heartbeat_seconds}",
        f"FileStorePath={state_dir / 'store'}",
        f"FileLogPath={state_dir / 'log'}",
        "UseDataDictionary=Y",
        f"DataDictionary={data_dictionary()}",
        "ValidateUserDefinedFields=Y",
        "ValidateFieldsOutOfOrder=Y",
        "ValidateFieldsHaveValues=Y",
        "ValidateLengthAndChecksum=Y",
        "AllowUnknownMsgFields=N",
        "CheckLatency=Y",
        f"MaxLatency={MAX_LATENCY_SECONDS}",
        "CheckCompID=Y",
        "SocketNodelay=Y",
    ]
    if acceptor:
        lines += [f"SocketAcceptPort={port}", f"SocketAcceptHost={host}", "SocketReuseAddress=Y"]
    else:
        lines += [f"ReconnectInterval={reconnect_seconds}"]
        if port is not None:
            lines += [f"SocketConnectPort={port}", f"SocketConnectHost={host}"]
    for spec in sessions:
        lines += ["", "[SESSION]", f"SenderCompID={spec.sender}", f"TargetCompID={spec.target}"]
        if spec.port is not None:
            lines += [f"SocketConnectHost={spec.host or host}", f"SocketConnectPort={spec.port}"]
        if spec.heartbeat_seconds is not None:
            lines += [f"HeartBtInt={spec.heartbeat_seconds}"]
        lines += _relaxations(spec)
    return "\n".join(lines) + "\n"


def _relaxations(spec: SessionSpec) -> list[str]:
    lines = []
    if spec.max_latency_seconds is None:
        lines += ["CheckLatency=N"]
    elif spec.max_latency_seconds != MAX_LATENCY_SECONDS:
        lines += [f"MaxLatency={spec.max_latency_seconds}"]
    if spec.allow_fields_out_of_order:
        lines += ["ValidateFieldsOutOfOrder=N"]
    if spec.allow_user_defined_fields:
        lines += ["ValidateUserDefinedFields=N"]
    if spec.reset_on_logon:
        lines += ["ResetOnLogon=Y", "ResetOnLogout=Y", "ResetOnDisconnect=Y"]
    return lines


def session_settings(text: str, path: Path) -> fix.SessionSettings:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return fix.SessionSettings(str(path))
