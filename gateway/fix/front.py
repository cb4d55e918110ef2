"""The gateway's front door: the listening port clients connect to, in front of one quickfix
acceptor per client session.

quickfix (C++) has no dynamic sessions: a Logon for a CompID its settings do not name is dropped
without a word, and an application never learns a connection's source address. So the gateway
listens itself. It reads a connection's first message, the Logon; refuses it with a Logout whose
Text (58) says why (an unknown or inactive CompID, a source address the session does not allow);
or connects it to that session's acceptor on a loopback port of its own and from then on passes
the bytes both ways untouched. The FIX session (sequence numbers, validation, resend) is entirely
quickfix's; this part never reads past the Logon.

Strangers. A Logon from a CompID no session has, or addressed to another TargetCompID, is a
stranger's. By default it is answered like any refusal, with a Logout that says why; with
OMS_FIX_EXPLAIN_UNKNOWN=false the connection is closed without a word, as quickfix's own acceptor
does (and its session-layer scripts expect: tests/conformance), which tells a stranger nothing about
which CompIDs exist. A known session refused (inactive, from an address it may not use, a kill
switch) is always told why.

One acceptor per session also means a session added, edited or switched off in admin is started
or stopped alone, without touching the others.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection

log = logging.getLogger("oms.gateway")

LOGON_TIMEOUT_SECONDS = 10.0
MAX_LOGON_BYTES = 4096
CHECKSUM = re.compile(rb"\x0110=\d{3}\x01")
SOH = "\x01"


@dataclass(frozen=True)
class Refusal:
    text: str  # the Logout's Text (58)
    stranger: bool = False  # the CompIDs are none of ours (see the module's docstring)


# (comp_id, source address) -> the session acceptor's port, or why not
Admit = Callable[[str, str], "int | Refusal"]
# (comp_id, direction, raw message): the FIX message log (audit.py)
Record = Callable[[str, str, str], None]


def field(message: bytes, tag: int) -> str | None:
    match = re.search(rb"(?:^|\x01)" + str(tag).encode() + rb"=([^\x01]*)\x01", message)
    return match.group(1).decode("ascii", "replace") if match else None


def logout_refusal(sender: str, target: str, text: str, begin_string: str = "FIX.4.4") -> bytes:
    """35=5 Logout with 58 Text, MsgSeqNum 1: the answer of a session that never started."""
    sending_time = datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:21]
    body = f"35=5{SOH}34=1{SOH}49={sender}{SOH}52={sending_time}{SOH}56={target}{SOH}58={text}{SOH}"
    head = f"8={begin_string}{SOH}9={len(body.encode())}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return f"{head}{body}10={checksum:03d}{SOH}".encode()


class Front:
    def __init__(self, host: str, port: int, comp_id: str, admit: Admit, stopped: threading.Event,
                 record: Record, *, explain_unknown: bool = True) -> None:  # fmt: skip
        self.host, self.port, self.comp_id = host, port, comp_id
        self.admit = admit
        self.record = record
        self.explain_unknown = explain_unknown
        self.stopped = stopped
        self._listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        listener.settimeout(0.5)
        self._listener = listener
        threading.Thread(target=self._accept, name="front", daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self.stopped.is_set():
            try:
                client, (address, _) = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            threading.Thread(target=self._connection, args=(client, address), name=f"front-{address}",
                             daemon=True).start()  # fmt: skip

    def _connection(self, client: socket.socket, address: str) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            logon = self._read_logon(client)
        except OSError:
            client.close()
            return
        if logon is None or field(logon, 35) != "A":
            client.close()  # not FIX, or not a Logon first: nothing to answer
            return
        sender = field(logon, 49) or ""
        if field(logon, 56) != self.comp_id:
            self._refuse(client, sender, Refusal(f"TargetCompID must be {self.comp_id}", stranger=True), logon)
            return
        try:
            admitted = self.admit(sender, address)
        except Exception:
            log.exception("could not decide on a logon of %s", sender)
            admitted = Refusal("the gateway cannot take logons now; try again")
        finally:
            connection.close()  # back to the pool: this thread now only copies bytes
        if isinstance(admitted, Refusal):
            self._refuse(client, sender, admitted, logon)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", admitted), timeout=5)
        except OSError:
            self._refuse(client, sender, Refusal(f"session {sender} is not available now; try again"), logon)
            return
        upstream.settimeout(None)
        client.settimeout(None)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.sendall(logon)
        threading.Thread(target=_pipe, args=(upstream, client), name=f"down-{sender}", daemon=True).start()
        _pipe(client, upstream)

    def _read_logon(self, client: socket.socket) -> bytes | None:
        """The first whole FIX message (up to its checksum field), or None."""
        client.settimeout(LOGON_TIMEOUT_SECONDS)
        data = b""
        while not CHECKSUM.search(data):
            chunk = client.recv(MAX_LOGON_BYTES)
            if not chunk or len(data) + len(chunk) > MAX_LOGON_BYTES:
                return None
            data += chunk
        # Only the Logon is ours to read; anything after it is the session's (passed on as it came).
        return data

    def _refuse(self, client: socket.socket, sender: str, refusal: Refusal, logon: bytes) -> None:
        log.warning("logon of %r refused: %s", sender, refusal.text)
        # A refused logon is part of the record: who tried, and what they were told (if anything).
        self.record(sender or "UNKNOWN", "in", logon.decode("ascii", "replace"))
        if refusal.stranger and not self.explain_unknown:
            client.close()
            return
        logout = logout_refusal(self.comp_id, sender or "UNKNOWN", refusal.text, field(logon, 8) or "FIX.4.4")
        self.record(sender or "UNKNOWN", "out", logout.decode("ascii", "replace"))
        try:
            client.sendall(logout)
            client.shutdown(socket.SHUT_WR)
            client.settimeout(2)
            client.recv(1024)  # let the client read the Logout before the connection goes
        except OSError:
            pass
        finally:
            client.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        source.close()
