"""A FIX 4.4 test client over real quickfix on loopback: logs on, sends, and collects what comes back."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import quickfix as fix

from venues.fix.config import SessionSpec, session_settings, settings_text


def as_dict(message: fix.Message) -> dict[int, str]:
    fields: dict[int, str] = {}
    for part in message.toString().split("\x01"):
        if "=" in part:
            tag, _, value = part.partition("=")
            fields[int(tag)] = value
    return fields


class Collector(fix.Application):
    def __init__(self) -> None:
        super().__init__()
        self.inbox: queue.Queue[dict[int, str]] = queue.Queue()
        self.logged_on = False
        self.session_id: fix.SessionID | None = None

    def onCreate(self, session_id):
        self.session_id = session_id

    def onLogon(self, session_id):
        self.logged_on = True

    def onLogout(self, session_id):
        self.logged_on = False

    def toAdmin(self, message, session_id):
        pass

    def fromAdmin(self, message, session_id):
        if message.getHeader().getField(35) == "3":  # session-level Reject: the test wants to see it
            self.inbox.put(as_dict(message))

    def toApp(self, message, session_id):
        pass

    def fromApp(self, message, session_id):
        self.inbox.put(as_dict(message))


class FixClient:
    def __init__(self, sender: str, target: str, port: int, state_dir: Path) -> None:
        text = settings_text(acceptor=False, port=port, sessions=[SessionSpec(sender, target)], state_dir=state_dir,
                             heartbeat_seconds=5, reconnect_seconds=1)  # fmt: skip
        self.settings = session_settings(text, state_dir / "initiator.cfg")
        self.app = Collector()
        self.initiator = fix.SocketInitiator(self.app, fix.MemoryStoreFactory(), self.settings, fix.ScreenLogFactory(
            False, False, False))  # fmt: skip

    def start(self, timeout: float = 30) -> None:
        self.initiator.start()
        deadline = time.monotonic() + timeout
        while not self.app.logged_on:
            if time.monotonic() > deadline:
                raise TimeoutError("no FIX logon")
            time.sleep(0.05)

    def stop(self) -> None:
        self.initiator.stop()

    def send(self, msg_type: str, fields: dict[int, str]) -> None:
        message = fix.Message()
        message.getHeader().setField(fix.BeginString("FIX.4.4"))
        message.getHeader().setField(fix.MsgType(msg_type))
        for tag, value in fields.items():
            message.setField(tag, value)
        if msg_type in ("D", "F", "G"):
            message.setField(fix.TransactTime())
        assert fix.Session.sendToTarget(message, self.app.session_id)

    def receive(self, timeout: float = 10) -> dict[int, str]:
        return self.app.inbox.get(timeout=timeout)

    def receive_until(self, predicate, timeout: float = 10) -> list[dict[int, str]]:
        """Messages up to and including the first that satisfies `predicate`."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(0.01, deadline - time.monotonic()))
            seen.append(message)
            if predicate(message):
                return seen
