"""Health: each venue session's state and detail, published every second (orders/venue_feed.py)
for the engine, which refuses orders to a venue that is not logged on, and for the health
endpoint; and, every minute, a log line of what each session sent and received. A retired
venue is no longer published, so it reads as unknown once its last state expires; at stop every
venue is published as disconnected."""

from __future__ import annotations

import logging
import threading
import time

from orders import venue_feed
from venues.connector.link import VenueLink

log = logging.getLogger("oms.connector")

STATS_SECONDS = 60


class Health:
    def __init__(self, links: dict[str, VenueLink], stopped: threading.Event) -> None:
        self.links = links
        self.stopped = stopped

    def publish_periodically(self) -> None:
        last_stats = time.monotonic()
        while not self.stopped.wait(1.0):
            self.publish()
            if time.monotonic() - last_stats >= STATS_SECONDS:
                last_stats = time.monotonic()
                for link in self.links.values():
                    log.info("%s: %s; %d messages sent, %d received", link.name, link.state, link.sent,
                             link.received)  # fmt: skip

    def publish(self) -> None:
        for link in self.links.values():
            if link.retired.is_set() and not self.stopped.is_set():
                continue
            try:
                since = link.logged_on_ns if link.state == venue_feed.LOGGED_ON else None
                venue_feed.publish(link.name, link.state, link.detail, since_ns=since)
            except Exception as exc:
                log.error("cannot publish %s's session state: %s", link.name, exc)
