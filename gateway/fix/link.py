"""One client's session as every part of the gateway shares it: whether it is logged on, what it
may trade, and the one way to send on it (wait while it is down: a tailer holds its place)."""

from __future__ import annotations

import threading

import quickfix as fix

from gateway.domain.sessions import RateLimit
from venues.connector.threads import Stopped


class ClientLink:
    def __init__(self, comp_id: str, stopped: threading.Event) -> None:
        self.comp_id = comp_id
        self.actor = f"fix:{comp_id}"  # the commands' actor, and how the log names this session's orders
        self.session_id: fix.SessionID | None = None
        self.up = threading.Event()
        self.stopped = stopped
        self.retired = threading.Event()  # switched off in admin: its tailer stops waiting
        self.accounts: frozenset[str] = frozenset()  # what it may trade, refreshed from its row
        self.default_account: str | None = None
        self.cancel_on_disconnect = False
        self.grace_seconds = 0.0
        self.rate = RateLimit(100)  # application messages a second it may send

    def configure(self, accounts: frozenset[str], default_account: str | None, *, cancel_on_disconnect: bool = False,
                  grace_seconds: float = 0.0, max_messages_per_second: int = 100) -> None:  # fmt: skip
        self.accounts, self.default_account = accounts, default_account
        if self.rate.per_second != max_messages_per_second:
            self.rate = RateLimit(max_messages_per_second)
        self.cancel_on_disconnect, self.grace_seconds = cancel_on_disconnect, grace_seconds
        if accounts:
            self.retired.clear()

    def send(self, message: fix.Message) -> None:
        """Send once the session is logged on; while it is not, wait. Raises Stopped when the
        gateway stops first, ConnectionError when quickfix refuses."""
        while not self.up.wait(0.5):
            if self.stopped.is_set() or self.retired.is_set():
                raise Stopped(f"{self.comp_id}: stopped while waiting for the session")
        assert self.session_id is not None
        if not fix.Session.sendToTarget(message, self.session_id):
            raise ConnectionError(f"{self.comp_id}: the session refused the message")

    def send_now(self, message: fix.Message) -> None:
        """An answer to a request it just sent: it is logged on (or the answer has no one to go to)."""
        if self.session_id is not None:
            fix.Session.sendToTarget(message, self.session_id)
