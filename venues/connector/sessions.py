"""Our FIX initiator sessions to the venues: quickfix settings, and reconnection with backoff.

quickfix's initiator reconnects an enabled session at a fixed interval. A venue that is down
should instead be tried less and less often (1 s, 2 s, 4 s ... up to 30 s), and at once again
after a good session. So one initiator holds every venue's session and a supervisor per venue
switches its session on (Session.logon: connect at the initiator's next 1 s tick) and off
(Session.logout: no more attempts) around the backoff. Those calls only flip the session's
flags: the initiator itself is never stopped and restarted, which from Python can deadlock
against a quickfix thread waiting in a callback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import quickfix as fix
from django.conf import settings

from venues.fix.config import SessionSpec, parse_day_start
from venues.fix.config import settings_text as fix_settings_text

log = logging.getLogger("oms.connector")

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
LOGON_WAIT_SECONDS = 5.0
TICK_SECONDS = 1  # how often the initiator looks for enabled sessions to connect


def settings_text(venues: list, state_dir: Path) -> str:
    """One initiator, a session per venue, keeping its sequence numbers for the trading day in
    the FileStore under `state_dir` (OMS_FIX_SESSION_START is the boundary): after a reconnect or
    a restart of either side, the venue resends what we missed (ResendRequest / GapFill)."""
    sessions = [SessionSpec(v.sender_comp_id, v.target_comp_id, v.host, v.port, v.heartbeat_seconds) for v in venues]
    return fix_settings_text(acceptor=False, port=None, sessions=sessions, state_dir=state_dir,
                             reconnect_seconds=TICK_SECONDS,
                             day_start=parse_day_start(settings.OMS_FIX_SESSION_START))  # fmt: skip


class Supervisor:
    """Keeps one venue's session up: on, wait for the logon; after a drop or a failed attempt,
    off for the backoff, then on again."""

    def __init__(
        self,
        name: str,
        session_id: Callable[[], fix.SessionID | None],
        up: threading.Event,
        stopped: threading.Event,  # set: this session is to stay off (the venue retired, or we stop)
        on_retry: Callable[[str], None],
    ) -> None:
        self.name = name
        self.session_id = session_id
        self.up = up
        self.stopped = stopped
        self.on_retry = on_retry

    def run(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while not self.stopped.is_set():
            session = self._session()
            if session is None:
                self.stopped.wait(0.2)  # the initiator has not created it yet
                continue
            session.logon()  # enabled: the initiator connects it at its next tick
            if self.up.wait(LOGON_WAIT_SECONDS + TICK_SECONDS):
                backoff = FIRST_BACKOFF_SECONDS  # a good session: the next drop retries at once
                while self.up.is_set() and not self.stopped.wait(0.2):
                    pass
            if self.stopped.is_set():
                return
            session.logout("reconnecting later")  # no attempts until the backoff is over
            self.on_retry(f"reconnecting in {backoff:g}s")
            log.info("%s: not connected; next attempt in %gs", self.name, backoff)
            if self.stopped.wait(backoff):
                return
            self.on_retry("reconnecting now")
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _session(self) -> fix.Session | None:
        session_id = self.session_id()
        return fix.Session.lookupSession(session_id) if session_id is not None else None
