"""quickfix session settings, written from our own configuration (never hand-edited files)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import quickfix as fix


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


def settings_text(
    *,
    acceptor: bool,
    port: int | None,
    sessions: list[SessionSpec],
    state_dir: Path,
    host: str = "127.0.0.1",
    heartbeat_seconds: int = 10,
    reconnect_seconds: int = 2,
    reset_on_logon: bool = False,
) -> str:
    """`reset_on_logon`: sequence numbers start at 1 at every logon (and are reset at logout and
    disconnect too), so nothing is resent at the FIX level after a reconnect or a restart."""
    lines = [
        "[DEFAULT]",
        f"ConnectionType={'acceptor' if acceptor else 'initiator'}",
        "BeginString=FIX.4.4",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        f"HeartBtInt={heartbeat_seconds}",
        f"FileStorePath={state_dir / 'store'}",
        f"FileLogPath={state_dir / 'log'}",
        "UseDataDictionary=Y",
        f"DataDictionary={data_dictionary()}",
        "ValidateUserDefinedFields=N",
        "ValidateFieldsOutOfOrder=N",
        "CheckLatency=N",
        "SocketNodelay=Y",
    ]
    if reset_on_logon:
        lines += ["ResetOnLogon=Y", "ResetOnLogout=Y", "ResetOnDisconnect=Y"]
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
    return "\n".join(lines) + "\n"


def session_settings(text: str, path: Path) -> fix.SessionSettings:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return fix.SessionSettings(str(path))
