"""The FIX session layer is strict, as a real venue's: run_venue over loopback, spoken to by a raw
socket client sending hand-built messages, so that what quickfix would never send (a stale
SendingTime, fields out of order, an undefined tag, garbage) can be sent. Each is answered at the
session level and never reaches the application (venues/fix/config.py)."""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from venue_stack import COUNTERPARTY, Simulator

VENUE = "XSTRICT"
SOH = "\x01"


def fix_message(*fields: tuple[int, object]) -> bytes:
    """8, 9 and 10 around `fields`, in the order given: BodyLength and CheckSum computed."""
    body = "".join(f"{tag}={value}{SOH}" for tag, value in fields)
    head = f"8=FIX.4.4{SOH}9={len(body.encode())}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return f"{head}{body}10={checksum:03d}{SOH}".encode()


def sending_time(offset_seconds: float = 0) -> str:
    return f"{datetime.now(UTC) + timedelta(seconds=offset_seconds):%Y%m%d-%H:%M:%S.%f}"[:-3]


class RawSession:
    """One TCP connection logged on as the counterparty, sequence numbers reset (141=Y)."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.seq = 0
        self.send((98, 0), (108, 30), (141, "Y"), msg_type="A")
        logon = self.receive()
        assert logon[35] == "A" and logon[141] == "Y", logon

    def header(self, msg_type: str, offset_seconds: float = 0) -> list[tuple[int, object]]:
        self.seq += 1
        return [(35, msg_type), (34, self.seq), (49, COUNTERPARTY), (52, sending_time(offset_seconds)), (56, VENUE)]

    def send(self, *body: tuple[int, object], msg_type: str, offset_seconds: float = 0) -> int:
        self.send_raw(fix_message(*self.header(msg_type, offset_seconds), *body))
        return self.seq

    def send_raw(self, data: bytes) -> None:
        self.socket.sendall(data)

    def receive(self, msg_types: tuple[str, ...] = ()) -> dict[int, str]:
        """The next message (of one of `msg_types`, if given; heartbeats and others skipped)."""
        while True:
            match = re.search(rb"8=FIX\.4\.4\x019=(\d+)\x01", self.buffer)
            if match:
                end = match.end() + int(match.group(1)) + len(b"10=000\x01")
                if len(self.buffer) >= end:
                    raw, self.buffer = self.buffer[match.start() : end], self.buffer[end:]
                    fields = dict(part.split("=", 1) for part in raw.decode().split(SOH) if part)
                    message = {int(tag): value for tag, value in fields.items()}
                    if not msg_types or message[35] in msg_types:
                        return message
                    continue
            data = self.socket.recv(65536)
            if not data:
                raise ConnectionError("the venue closed the connection")
            self.buffer += data

    def closed_by_venue(self, timeout: float = 10) -> bool:
        self.socket.settimeout(timeout)
        try:
            while self.socket.recv(65536):
                pass
        except ConnectionResetError:
            pass
        return True

    def alive(self) -> bool:
        """The session still answers a TestRequest (35=1) with its Heartbeat (35=0, 112 echoed)."""
        test_req_id = f"T{time.monotonic_ns()}"
        self.send((112, test_req_id), msg_type="1")
        return self.receive(("0",)).get(112) == test_req_id

    def logout(self) -> None:
        """Log out and close, waiting for the venue's Logout so the next logon finds it free."""
        try:
            self.send(msg_type="5")
            self.receive(("5",))
        except OSError:  # already logged out and closed by the venue
            pass
        self.close()

    def close(self) -> None:
        self.socket.close()


@pytest.fixture(scope="module")
def venue(db_ready):
    simulator = Simulator(VENUE, "--no-liquidity")
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def session(venue):
    raw = RawSession(venue.port)
    yield raw
    raw.logout()


def new_order(cl_ord_id: str) -> list[tuple[int, object]]:
    return [(11, cl_ord_id), (21, 1), (38, 1), (40, 2), (44, "10.00"), (54, 1), (55, "AAPL"), (60, sending_time())]


def test_a_well_formed_order_reaches_the_venue(session):
    session.send(*new_order("OK-1"), msg_type="D")
    report = session.receive(("8", "3"))
    assert report[35] == "8" and report[11] == "OK-1" and report[150] == "0"


@pytest.mark.parametrize("offset_seconds", [-121, 121])
def test_a_sending_time_over_two_minutes_off_is_rejected_and_the_session_logged_out(session, offset_seconds):
    seq = session.send(msg_type="0", offset_seconds=offset_seconds)  # a Heartbeat from the wrong clock
    reject = session.receive()
    assert (reject[35], reject[45], reject[372], reject[373]) == ("3", str(seq), "0", "10")  # SendingTime accuracy
    assert session.receive()[35] == "5"  # Logout
    assert session.closed_by_venue()


def test_a_header_field_among_the_body_fields_is_rejected_out_of_order(session):
    header = session.header("D")
    fields = [header[0], *new_order("ORDER-1"), *header[1:]]  # body before 34, 49, 52, 56
    session.send_raw(fix_message(*fields))
    reject = session.receive(("3", "8"))
    assert (reject[35], reject[45], reject[372], reject[373]) == ("3", str(session.seq), "D", "14")
    assert session.alive()  # a Reject, not a disconnect: the session goes on
    session.send(*new_order("ORDER-2"), msg_type="D")
    assert session.receive(("8",))[11] == "ORDER-2"


@pytest.mark.parametrize("tag", [5000, 4999])
def test_a_tag_the_dictionary_does_not_define_is_rejected(session, tag):
    """5000 is user-defined, 4999 unassigned: FIX44.xml has neither."""
    seq = session.send(*new_order(f"UDF-{tag}"), (tag, "HI"), msg_type="D")
    reject = session.receive(("3", "8"))
    assert (reject[35], reject[45], reject[371], reject[373]) == ("3", str(seq), str(tag), "0")  # invalid tag
    assert session.alive()


def test_garbage_and_a_bad_checksum_do_not_take_the_venue_down(venue, session):
    session.send_raw(b"this is not FIX at all\x01\x01=\x01")
    bad = bytearray(fix_message(*session.header("0")))
    bad[-4:-1] = b"000" if bad[-4:-1] != b"000" else b"001"  # a wrong CheckSum: dropped, not answered
    session.send_raw(bytes(bad))
    session.seq -= 1  # the garbled message does not count
    assert session.alive()
    assert venue.process is not None and venue.process.poll() is None
    session.logout()
    again = RawSession(venue.port)  # and it takes the next logon
    assert again.alive()
    again.logout()
