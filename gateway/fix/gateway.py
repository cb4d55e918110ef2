"""The client FIX gateway: a FIX 4.4 acceptor between client systems and the engine.

- front.py: the port clients connect to: reads the Logon, refuses it with a Logout that says why,
  or passes the connection to the session's own acceptor;
- application.py: the quickfix Application, thin: session state, messages to the inbound part;
- inbound.py: 35=D/F/G/H to engine commands (and the few answers that never reach the log);
- outbound.py: a log tailer per client session, committed events to 35=8/9, exactly once;
- link.py: one client's session state, and sending on it (waiting while it is down);
- audit.py: the FIX message log (every message in and out, for compliance), written off the order path;
- this module: the sessions' acceptors, the watch on the ClientSession table, start and stop.

Sessions. Each active ClientSession has a quickfix SocketAcceptor of its own on a loopback port
(quickfix C++ has no dynamic sessions; one acceptor each lets a session start and stop alone). It
keeps its sequence numbers and sent messages for the trading day in the FileStore under
var/<profile>/gateway (reset at OMS_FIX_SESSION_START, not at logon) and serves ResendRequests from
it. A session marked `reset_on_logon` (test tools, conformance scripts) starts at 1 at every logon
instead. An edit in admin reaches the running gateway within WATCH_SECONDS: accounts and the default
account are taken up, a session made inactive or deleted is logged out and its acceptor stopped, a
new one is started; a logon reads the row afresh in any case. `reset_on_logon` is read when the
session's acceptor starts (quickfix reads ResetOnLogon then): at the gateway's start, or when the
session is switched on.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from time import monotonic, sleep, time_ns

import quickfix as fix
from django.db import close_old_connections

from gateway import health
from gateway.domain.sessions import kill_switch_refusal
from gateway.fix.application import GatewayApplication, logon_refusal
from gateway.fix.audit import AuditTrail
from gateway.fix.front import Front, Refusal
from gateway.fix.inbound import Inbound, cancel_working_orders
from gateway.fix.link import ClientLink
from gateway.fix.outbound import RecentEvents, client_tailer
from gateway.models import ClientSession
from orders.tailer import LogTailer
from risk.models import KillSwitch
from venues.connector.threads import spawn
from venues.fix.config import SessionSpec, session_settings, settings_text

log = logging.getLogger("oms.gateway")

WATCH_SECONDS = 2.0
LOGOUT_SECONDS = 2.0  # at stop, how long the sessions' Logouts may take
HEARTBEAT_SECONDS = 30  # the client's HeartBtInt (108) is what a session uses


@dataclass
class SessionAcceptor:
    port: int
    acceptor: fix.SocketAcceptor


def address_refusal(row: ClientSession, address: str) -> str | None:
    allowed = row.addresses
    if not allowed:
        return None
    try:
        ip = ipaddress.ip_address(address)
        if any(ip in ipaddress.ip_network(a, strict=False) for a in allowed):
            return None
    except ValueError:
        pass
    return f"session {row.comp_id} may not connect from {address}"


def engaged_switches() -> list[tuple[str, str, str]]:
    """(scope, target, reason) of every kill switch engaged now, as the log's projection shows."""
    return [(k.scope, k.target, k.engage_reason) for k in KillSwitch.objects.filter(engaged=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, comp_id: str, host: str, port: int, state_dir: Path, day_start: time, *,
                 explain_unknown: bool = True) -> None:  # fmt: skip
        self.comp_id = comp_id
        self.state_dir = state_dir
        self.day_start = day_start
        self.stopped = threading.Event()
        self.links: dict[str, ClientLink] = {}
        self.tailers: dict[str, LogTailer] = {}
        self.acceptors: dict[str, SessionAcceptor] = {}
        self.recent = RecentEvents()  # the log's latest events, read once for all the tailers
        # `_lock` guards the dicts and is never held around a call into quickfix, because quickfix
        # calls back (onLogout of an acceptor being stopped, fromAdmin) holding locks of its own and
        # the callbacks take `_lock`: held across acceptor.start() it deadlocked against a stop.
        # Starts are serialized by `_start_lock`, which no callback takes.
        self._lock = threading.RLock()
        self._start_lock = threading.Lock()
        self.inbound = Inbound(self.stopped)
        self.audit = AuditTrail(self.stopped)
        self.application = GatewayApplication(self.inbound, self.link, self._configure, self._disconnected,
                                              self.audit)  # fmt: skip
        self.front = Front(host, port, comp_id, self.admit, self.stopped, self.audit.record,
                           explain_unknown=explain_unknown)  # fmt: skip

    def link(self, comp_id: str) -> ClientLink:
        with self._lock:
            link = self.links.get(comp_id)
            if link is None:
                link = self.links[comp_id] = ClientLink(comp_id, self.stopped)
            return link

    def start(self) -> None:
        self.inbound.names.refresh()
        for row in ClientSession.objects.filter(active=True).prefetch_related("accounts"):
            self._configure(self.link(row.comp_id), row)
        self.audit.start()
        self.front.start()
        spawn(self._watch, name="watch")
        spawn(self._heartbeat, name="heartbeat")
        log.info("client FIX gateway on %s:%d as %s", self.front.host, self.front.port, self.comp_id)

    def stop(self) -> None:
        """Log every session out, then leave: the process exits without stopping the acceptors.
        quickfix's Acceptor.stop() from Python can spin forever in SocketServer::close while the
        acceptor's own thread changes its sockets (seen under load; py-spy shows the loop), and
        nothing is lost by not calling it: the FileStore has every sent message on disk before it
        is sent, the checkpoints are in the database, and the clients see their Logout."""
        for tailer in list(self.tailers.values()):  # first: a tailer waiting to send then just stops
            tailer.stop()
        self.stopped.set()
        self.front.stop()
        up = [link for link in list(self.links.values()) if link.up.is_set()]
        for link in up:
            self._log_out(link, "the gateway is shutting down; log on again in a moment")
        deadline = monotonic() + LOGOUT_SECONDS
        while any(link.up.is_set() for link in up) and monotonic() < deadline:
            sleep(0.05)
        self.audit.stop()
        try:
            health.clear()
        except Exception:  # Redis away: the heartbeat expires anyway
            pass

    def admit(self, comp_id: str, address: str) -> int | Refusal:
        """At a connection's Logon, on the front's thread: the session acceptor's port, or why not."""
        close_old_connections()
        row = ClientSession.objects.filter(comp_id=comp_id).prefetch_related("accounts").first()
        refusal = logon_refusal(row, comp_id) or address_refusal(row, address)  # type: ignore[arg-type]
        if refusal is not None:
            return Refusal(refusal, stranger=row is None)
        assert row is not None
        refusal = kill_switch_refusal(engaged_switches(), frozenset(a.code for a in row.accounts.all()))
        if refusal is not None:
            return Refusal(refusal)
        self._configure(self.link(comp_id), row)
        return self.acceptors[comp_id].port

    def _configure(self, link: ClientLink, row: ClientSession) -> None:
        """Take up an active session's row (at start, at each logon, on an edit): its accounts, its
        acceptor and its tailer, started if they are not running."""
        link.configure(frozenset(a.code for a in row.accounts.all()), row.default_account_id,
                       cancel_on_disconnect=row.cancel_on_disconnect, grace_seconds=row.grace_seconds,
                       max_messages_per_second=row.max_messages_per_second)  # fmt: skip
        if link.comp_id not in self.acceptors:
            with self._start_lock:
                if link.comp_id not in self.acceptors:
                    started = self._start_acceptor(link.comp_id, row.reset_on_logon)
                    with self._lock:
                        self.acceptors[link.comp_id] = started
        with self._lock:
            if link.comp_id not in self.tailers:
                tailer = self.tailers[link.comp_id] = client_tailer(
                    link, store_dir=self.state_dir / "store", sender=self.comp_id, recent=self.recent
                )
                spawn(tailer.run, name=f"out-{link.comp_id}")

    def _disconnected(self, link: ClientLink) -> None:
        """A session logged out or dropped: with cancel-on-disconnect, its working orders are
        canceled once its grace period is over, unless it is back by then. On quickfix's thread."""
        if link.cancel_on_disconnect:
            spawn(self._cancel_on_disconnect, link, name=f"cod-{link.comp_id}")

    def _cancel_on_disconnect(self, link: ClientLink) -> None:
        if link.up.wait(link.grace_seconds) or self.stopped.is_set():
            return  # back in time (or the gateway stops: its sessions are not the clients' doing)
        canceled = cancel_working_orders(link, None, f"COD-{time_ns()}")
        log.warning("%s: disconnected for %ss; %d working orders asked to cancel", link.comp_id,
                    link.grace_seconds, len(canceled))  # fmt: skip

    def _start_acceptor(self, client: str, reset_on_logon: bool) -> SessionAcceptor:
        port = _free_port()
        spec = SessionSpec(self.comp_id, client, reset_on_logon=reset_on_logon)
        text = settings_text(acceptor=True, port=port, sessions=[spec],
                             state_dir=self.state_dir, heartbeat_seconds=HEARTBEAT_SECONDS,
                             day_start=self.day_start)  # fmt: skip
        settings = session_settings(text, self.state_dir / "sessions" / f"{client}.cfg")
        acceptor = fix.SocketAcceptor(
            self.application, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings)
        )
        acceptor.start()
        log.info("session %s: acceptor on 127.0.0.1:%d", client, port)
        return SessionAcceptor(port, acceptor)

    def _watch(self) -> None:
        while not self.stopped.wait(WATCH_SECONDS):
            try:
                rows = {r.comp_id: r for r in ClientSession.objects.prefetch_related("accounts")}
                self.inbound.names.refresh()
            except Exception:
                log.exception("could not read the client sessions; trying again")
                close_old_connections()
                continue
            for comp_id, row in rows.items():
                if row.active:
                    self._configure(self.link(comp_id), row)
            for comp_id in list(self.acceptors):
                row = rows.get(comp_id)
                if (row is None or not row.active) and not self.link(comp_id).retired.is_set():
                    self._retire(comp_id, "session deactivated" if row else "session deleted")
            switches = engaged_switches()
            for link in list(self.links.values()):
                if link.up.is_set() and (why := kill_switch_refusal(switches, link.accounts)):
                    self._log_out(link, why)

    def _heartbeat(self) -> None:
        while True:
            sessions = {c: "switched_off" if link.retired.is_set() else "logged_on" if link.up.is_set()
                        else "logged_out" for c, link in list(self.links.items()) if c in self.acceptors}  # fmt: skip
            try:
                health.publish(self.comp_id, self.front.port, sessions)
            except Exception as exc:  # Redis away: health says so itself; keep trying
                log.error("cannot publish the gateway's health: %s", exc)
            if self.stopped.wait(health.HEARTBEAT_SECONDS):
                return

    def _log_out(self, link: ClientLink, why: str) -> None:
        """Log a session out, saying why in the Logout's Text (58); it may log on again when the
        reason is gone (a kill switch released)."""
        log.warning("%s: logging it out: %s", link.comp_id, why)
        if link.session_id is not None and (session := fix.Session.lookupSession(link.session_id)) is not None:
            session.logout(why)  # enabled again at the logout (application.py): the front decides who may

    def _retire(self, comp_id: str, why: str) -> None:
        """A session switched off or deleted: logged out and its tailer stopped (its checkpoint
        stays: switched on again, it continues where it was). Its acceptor stays, idle on
        loopback: the front door lets nobody through to it while the row says no, and stopping an
        acceptor is what quickfix does badly (see stop())."""
        link = self.link(comp_id)
        link.configure(frozenset(), None)  # nothing more is taken from it
        link.retired.set()
        self._log_out(link, why)
        with self._lock:
            tailer = self.tailers.pop(comp_id, None)
        if tailer is not None:
            tailer.stop()
