"""Configuration: Venue rows edited in admin take effect without anyone restarting by hand.

The connector compares the active venues with the ones it started on every few seconds. A venue
only switched off is let go in place: its session logged out and its tailer stopped, the other
venues untouched; its live orders stay as they are until it is active again (they are still
working there). Any other change (a venue added or its address edited) is applied by a restart:
the connector says so and sets `restart_requested`, `run_venues` exits, and `make run`'s respawn
starts it on the new configuration.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import quickfix as fix

from venues.connector.link import VenueLink
from venues.models import Venue

log = logging.getLogger("oms.connector")

CONFIGURATION_CHECK_SECONDS = 5.0


class ConfigurationWatch:
    def __init__(
        self,
        venues: list[Venue],
        links: dict[str, VenueLink],
        *,
        only: set[str] | None,  # the venues asked for on the command line (None: every active one)
        stop_routing: Callable[[str], None],
        restart_requested: threading.Event,
        stopped: threading.Event,
    ) -> None:
        self.venues = venues
        self.links = links
        self.only = only
        self.stop_routing = stop_routing
        self.restart_requested = restart_requested
        self.stopped = stopped

    def run(self) -> None:
        started = _configuration(self.venues)
        while not self.stopped.wait(CONFIGURATION_CHECK_SECONDS):
            now = _configuration(list(Venue.objects.filter(active=True).order_by("name")))
            if self.only is not None:
                now = {k: v for k, v in now.items() if k in self.only}
            if now == started:
                continue
            retired = set(started) - set(now)
            if all(started.get(name) == settings for name, settings in now.items()):
                # Only venues switched off: let them go and keep the others' sessions up.
                for name in sorted(retired):
                    self.retire(self.links[name])
                started = now
                continue
            log.warning("the venue configuration changed (%s -> %s); restarting to apply it",
                        sorted(started), sorted(now))  # fmt: skip
            self.restart_requested.set()
            return

    def retire(self, link: VenueLink) -> None:
        """A venue made inactive: log out of it and stop routing to it. Its live orders stay as
        they are until it is active again (they are still working there)."""
        log.warning("%s: made inactive; logging out (its live orders stay at the venue)", link.name)
        link.retired.set()
        self.stop_routing(link.name)
        session_id = link.session_id
        if session_id is not None:
            session = fix.Session.lookupSession(session_id)
            if session is not None:
                session.logout("venue made inactive")


def _configuration(venues: list[Venue]) -> dict[str, tuple]:
    return {v.name: (v.host, v.port, v.sender_comp_id, v.target_comp_id, v.heartbeat_seconds) for v in venues}
