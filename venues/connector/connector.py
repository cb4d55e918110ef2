"""The venue connector: one FIX 4.4 initiator session per venue, between the log and the venues.

Out, committed events become orders, cancels and replaces at the venues, and nothing reaches
a venue before its event is in the log. In, the venues' reports become engine commands: the
engine alone books them. Recovery has two lines: FIX sequence numbers kept for the trading day,
so the venue resends the reports we missed while away (ResendRequest; we never replay our own
old orders, quickfix gap-fills them); then status requests (35=H) and resends of what an order
still waits for (resync.py). Beside that, market data feeds the router and the reference prices, positions are
reconciled against the venues' reports, and each session's state is published for the engine,
which refuses orders to a venue that is down.

Each job is a module of its own, readable alone; this one composes them and owns start and stop:

- link.py: `VenueLink`, one venue's session state, and sending on it (waiting while it is down);
- application.py: the quickfix Application, thin: session callbacks, and a dispatch table from
  message type (35) to the part that reads it;
- outbound.py: the tailer per venue, committed events to 35=D/F/G (out);
- inbound.py: reports (35=8/9) to engine commands, delivered in order and retried (in);
- mass_cancel.py: every order at a venue canceled with one 35=q (the kill switch), its 35=r read,
  and its reports read as each order's own cancel's (pending_mass_cancels.py);
- resync.py: status requests and resends at logon and periodically (recovery);
- reconcile.py: the venue's side for reconciliation (positions 35=AN/AP, open orders 35=AF/8),
  on request from reconciliation/services.py (a Celery beat task);
- market_data.py: snapshots (35=W) to the router's books and reference prices;
- configuration.py: a venue switched off in admin is let go in place; other changes restart;
- health.py: each session's state published every second, for the engine and /health;
- sessions.py: quickfix settings, and a supervisor per session reconnecting with backoff;
- threads.py: worker threads that give their database connection back.

Every FIX message is built and read in venues/fix (orders.py, market_data.py, positions.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import quickfix as fix

from venues.connector import sessions as fix_sessions
from venues.connector.application import ConnectorApplication
from venues.connector.configuration import ConfigurationWatch
from venues.connector.health import Health
from venues.connector.inbound import Inbound
from venues.connector.link import VenueLink
from venues.connector.market_data import MarketData
from venues.connector.mass_cancel import MassCancels
from venues.connector.outbound import Outbound
from venues.connector.reconcile import Reconciliation
from venues.connector.resync import Resync
from venues.connector.threads import spawn
from venues.fix.config import session_settings
from venues.models import Venue

log = logging.getLogger("oms.connector")


class Connector:
    def __init__(
        self,
        venues: list[Venue],
        *,
        resync_seconds: float = 30.0,
        only: set[str] | None = None,
    ) -> None:
        self.stopped = threading.Event()
        self.restart_requested = threading.Event()
        self._venues = venues
        self.links = {v.name: VenueLink(v, self.stopped) for v in venues}
        self.health = Health(self.links, self.stopped)
        self.mass_cancels = MassCancels(self.links)
        self.inbound = Inbound(
            self.stopped, on_duplicate=self._ask_status, own_report=self.mass_cancels.pending.own_report
        )
        self.outbound = Outbound(self.links.values(), mass_cancel=self.mass_cancel, answer=self.inbound.outbox.put)
        self.resync = Resync(self.links, resync_seconds, self.stopped, outbound_position=self.outbound.position)
        self.reconciliation = Reconciliation(
            self.links, self.stopped, outbound_caught_up=self.resync.wait_for_outbound, flush_inbound=self.inbound.flush
        )
        self.market_data = MarketData()
        self.configuration = ConfigurationWatch(
            venues, self.links, only=only, stop_routing=self.outbound.stop,
            restart_requested=self.restart_requested, stopped=self.stopped,
        )  # fmt: skip
        self.application = ConnectorApplication(
            self.links.values(),
            {
                "8": lambda link, message: self.reconciliation.on_execution_report(
                    link, message, otherwise=self.inbound.on_execution_report
                ),
                "9": self.inbound.on_cancel_reject,
                "r": self.mass_cancels.on_report,
                "W": self.market_data.on_snapshot,
                "Y": self.market_data.on_refused,
                "AP": self.reconciliation.on_position_answer,
                "AO": self.reconciliation.on_position_answer,
            },
            on_logon=self._on_logon,
            on_change=self.health.publish,
        )
        self._threads: list[threading.Thread] = []
        self._supervisors: list[threading.Thread] = []
        self._initiator: fix.SocketInitiator | None = None

    def start(self, state_dir: Path) -> None:
        """The workers, the initiator with every venue's session, and a supervisor per session."""
        self.start_workers()
        settings = session_settings(fix_sessions.settings_text(self._venues, state_dir), state_dir / "initiator.cfg")
        self._initiator = fix.SocketInitiator(
            self.application, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings)
        )
        self._initiator.start()
        for venue in self._venues:
            link = self.links[venue.name]
            supervisor = fix_sessions.Supervisor(
                venue.name, lambda link=link: link.session_id, link.up, link.retired,
                on_retry=lambda detail, link=link: self._retrying(link, detail),
            )  # fmt: skip
            thread = threading.Thread(target=supervisor.run, name=f"session-{venue.name}", daemon=True)
            thread.start()
            self._supervisors.append(thread)
            log.info("connecting to %s at %s:%d as %s -> %s", venue.name, venue.host, venue.port,
                     venue.sender_comp_id, venue.target_comp_id)  # fmt: skip

    def start_workers(self) -> None:
        workers = [(t.run, f"route-{t.name}") for t in self.outbound.tailers.values()] + [
            (self.inbound.deliver, "deliver"),
            (self.health.publish_periodically, "sessions"),
            (self.resync.periodically, "resync"),
            (self.reconciliation.run, "reconcile"),
            (self.configuration.run, "configuration"),
        ]
        for target, name in workers:
            self._threads.append(spawn(target, name=name))

    def stop(self) -> None:
        self.stopped.set()
        for link in self.links.values():
            link.retired.set()  # ends its supervisor
        for tailer in self.outbound.tailers.values():
            tailer.stop()
        for thread in self._supervisors:
            thread.join(timeout=5)
        if self._initiator is not None:
            self._initiator.stop()  # logs every session out
        for link in self.links.values():
            link.went_down("connector stopped")
        self.health.publish()

    def mass_cancel(self, venue: str, orders: Iterable[tuple[int, str, str]]) -> str:
        """Cancel every order of ours at `venue` with one OrderMassCancelRequest; its ClOrdID.
        `orders`: (order id, its current ClOrdID, its recorded cancel request's ClOrdID) for each
        order it is meant to cancel. See MassCancels.send."""
        return self.mass_cancels.send(venue, orders)

    def _on_logon(self, link: VenueLink) -> None:
        """After each logon, on a thread of its own: market data, then the resync of live orders."""
        self.market_data.subscribe(link)
        self.resync.resync(link, min_age_seconds=0)

    def _ask_status(self, link: VenueLink, order_id: int) -> None:
        """The venue refused our resend as a duplicate: ask where the order stands, off quickfix's thread."""
        spawn(self.resync.ask, link, [order_id], False)

    def _retrying(self, link: VenueLink, detail: str) -> None:
        link.detail = f"{link.down_reason}; {detail}"
        self.health.publish()
