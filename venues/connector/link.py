"""Our session to one venue, as every part of the connector shares it: whether it is up, what
to show about it, and the one way to send on it (wait while it is down)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import quickfix as fix

from orders import venue_feed
from venues.connector.threads import Stopped
from venues.models import Venue


class VenueLink:
    """Our session to one venue, and what we know of it."""

    def __init__(self, venue: Venue, stopped: threading.Event) -> None:
        self.name = venue.name
        self.target = venue.target_comp_id
        self.sender = venue.sender_comp_id
        self.session_id: fix.SessionID | None = None
        self.up = threading.Event()
        self.retired = threading.Event()  # made inactive while we run: its session stays off
        self.stopped = stopped  # the connector's: stop waiting for the session
        self.state = "connecting"
        self.detail = f"connecting to {venue.host}:{venue.port}"
        self.down_reason = f"cannot connect to {venue.host}:{venue.port}"
        self.resync_lock = threading.Lock()
        self.logged_on_at = datetime.min.replace(tzinfo=UTC)  # when this session last logged on
        self.logged_on_ns: int | None = None  # the same, exact: books older than it are the last session's
        self.reset_next_logon = False  # the next Logon carries 141=Y (see ConnectorApplication.toAdmin)
        self.sent = 0
        self.received = 0

    def went_up(self) -> None:
        self.state, self.detail = venue_feed.LOGGED_ON, ""
        # Before `up`: nothing is sent on this logon earlier. To the second, as coarse as any
        # SendingTime (a message of the last moments before it is only sent again: harmless).
        self.logged_on_at = datetime.now(UTC).replace(microsecond=0)
        self.logged_on_ns = time.time_ns()
        self.up.set()

    def went_down(self, detail: str) -> None:
        self.up.clear()
        self.state, self.detail, self.down_reason = "disconnected", detail, detail

    def send(self, message: fix.Message) -> None:
        """Send once the session is up; while it is down, wait (a tailer holds its place).
        Raises Stopped when the connector stops first, ConnectionError when quickfix refuses."""
        while not self.up.wait(0.5):
            if self.stopped.is_set():
                raise Stopped(f"{self.name}: stopped while waiting for the session")
        assert self.session_id is not None
        if not fix.Session.sendToTarget(message, self.session_id):
            raise ConnectionError(f"{self.name}: the session refused the message")
        self.sent += 1
