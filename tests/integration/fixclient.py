"""A FIX 4.4 test client over real quickfix on loopback: logs on, sends, and collects what comes back."""

from __future__ import annotations

import queue
import time
from datetime import UTC, datetime
from pathlib import Path

import quickfix as fix

from venues.fix.config import SessionSpec, session_settings, settings_text
from venues.fix.market_data import market_data_request_message
from venues.fix.positions import request_for_positions_message


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
        self.fresh = True  # not logged on yet: the first logon resets the sequence numbers
        self.session_id: fix.SessionID | None = None

    def onCreate(self, session_id):
        self.session_id = session_id

    def onLogon(self, session_id):
        self.logged_on = True
        self.fresh = False

    def onLogout(self, session_id):
        self.logged_on = False

    def toAdmin(self, message, session_id):
        if self.fresh and message.getHeader().getField(35) == "A":
            # A test client starts with no store, while the venue keeps its day's sequence
            # numbers across tests and runs: start the session again at 1 (141 ResetSeqNumFlag),
            # which the acceptor honours. Later logons of this client continue its numbers.
            message.setField(141, "Y")

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

    def send_message(self, message: fix.Message) -> None:
        assert fix.Session.sendToTarget(message, self.app.session_id)

    def subscribe_market_data(self, md_req_id: str, symbols: list[str], **options) -> None:
        """35=V, 263=1 (snapshot + updates) unless `subscription` says otherwise; see market_data_request_message."""
        self.send_message(market_data_request_message(md_req_id, symbols, **options))

    def unsubscribe_market_data(self, md_req_id: str, symbols: list[str]) -> None:
        self.send_message(market_data_request_message(md_req_id, symbols, subscription="unsubscribe"))

    def request_positions(self, pos_req_id: str, account: str = "DESK-EQ", *, timeout: float = 10,
                          **options) -> list[dict[int, str]]:  # fmt: skip
        """Send a RequestForPositions (35=AN) and collect its answer: all TotNumReports (727) of its
        PositionReports (35=AP), or its RequestForPositionsAck (35=AO). Other messages received
        meanwhile are dropped."""
        business_date = datetime.now(UTC).strftime("%Y%m%d")
        self.send_message(request_for_positions_message(pos_req_id, account, business_date, **options))
        answer: list[dict[int, str]] = []
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(0.01, deadline - time.monotonic()))
            if message.get(710) != pos_req_id or message.get(35) not in ("AP", "AO"):
                continue
            answer.append(message)
            if message[35] == "AO" or len(answer) == int(message[727]):
                return answer


# -- repeating groups, logon counts and sequence resets ----------------------------------------------


def fields_of(message: fix.Message) -> list[tuple[int, str]]:
    """Every field in wire order, repeating groups included (as_dict keeps only a tag's last value)."""
    return [(int(tag), value) for tag, _, value in (p.partition("=") for p in message.toString().split("\x01") if p)]


class Received(dict):
    """A message as `as_dict` gives it, plus `pairs`: every field in wire order."""

    pairs: list[tuple[int, str]]


def received(message: fix.Message) -> Received:
    result = Received(as_dict(message))
    result.pairs = fields_of(message)
    return result


def group(message: Received, count_tag: int, tags: tuple[int, ...]) -> list[dict[int, str]]:
    """The instances of the repeating group counted by `count_tag` whose fields are `tags`, delimiter
    first. Asserts that the count matches the instances."""
    pairs = message.pairs
    starts = [i for i, (tag, _) in enumerate(pairs) if tag == count_tag]
    if not starts:
        return []
    instances: list[dict[int, str]] = []
    for tag, value in pairs[starts[0] + 1 :]:
        if tag == tags[0]:
            instances.append({tag: value})
        elif tag in tags and instances:
            instances[-1][tag] = value
        else:
            break
    assert len(instances) == int(pairs[starts[0]][1]), (count_tag, pairs)
    return instances


class GroupCollector(Collector):
    """A Collector whose messages are `Received` (groups kept), counting logons and logouts."""

    def __init__(self) -> None:
        super().__init__()
        self.logons = 0
        self.logouts = 0

    def onLogon(self, session_id):
        super().onLogon(session_id)
        self.logons += 1

    def onLogout(self, session_id):
        super().onLogout(session_id)
        self.logouts += 1

    def fromApp(self, message, session_id):
        self.inbox.put(received(message))


class FixSession(FixClient):
    """A FixClient that keeps repeating groups (see `group`) and counts logons; with
    `reset_on_logon` it starts at sequence number 1 at every logon (141=Y), so it logs on again
    whatever the venue remembers; without, it continues its numbers after its first logon."""

    def __init__(self, sender: str, target: str, port: int, state_dir: Path, *, reset_on_logon: bool = False) -> None:
        spec = SessionSpec(sender, target, reset_on_logon=reset_on_logon)
        text = settings_text(acceptor=False, port=port, sessions=[spec], state_dir=state_dir, heartbeat_seconds=5,
                             reconnect_seconds=1)  # fmt: skip
        self.settings = session_settings(text, state_dir / "initiator.cfg")
        self.app = GroupCollector()
        self.initiator = fix.SocketInitiator(self.app, fix.MemoryStoreFactory(), self.settings, fix.ScreenLogFactory(
            False, False, False))  # fmt: skip

    def stop(self) -> None:
        """Disconnect without the logout handshake, which quickfix waits out in one-second polls."""
        self.initiator.stop(True)
