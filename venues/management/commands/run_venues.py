import logging
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from venues.connector.connector import Connector
from venues.models import Venue

log = logging.getLogger("oms.connector")


class Command(BaseCommand):
    help = "Run the venue connectors: a FIX 4.4 initiator session to every active venue, routing from the log."

    def add_arguments(self, parser):
        parser.add_argument("--venue", action="append", default=[], help="Only this venue (repeatable).")
        parser.add_argument("--resync-seconds", type=float, default=30.0,
                            help="How often live orders are checked against the venue (35=H).")  # fmt: skip

    def handle(self, *args, venue: list[str], resync_seconds: float, **options):
        venues = list(Venue.objects.filter(active=True).order_by("name"))
        if venue:
            unknown = set(venue) - {v.name for v in venues}
            if unknown:
                raise CommandError(f"unknown or inactive venue(s): {', '.join(sorted(unknown))}")
            venues = [v for v in venues if v.name in venue]
        if not venues:
            raise CommandError("no active venue is configured (see the Venue table in admin)")
        state_dir = Path(settings.BASE_DIR) / "var" / settings.SERVICES.profile / "connector"
        connector = Connector(venues, resync_seconds=resync_seconds, only=set(venue) or None)
        stop = connector.restart_requested
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        connector.start(state_dir)
        stop.wait()
        log.info("venue connectors stopping")
        connector.stop()
        log.info("venue connectors stopped")
