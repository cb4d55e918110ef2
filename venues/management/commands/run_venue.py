import logging
import signal
import threading
from pathlib import Path

import quickfix as fix
from django.conf import settings
from django.core.management.base import BaseCommand

from orders.models import Instrument
from venues.fix.config import SessionSpec, session_settings, settings_text
from venues.simulator.fix_app import VenueApplication
from venues.simulator.venue import InstrumentSpec, Venue

log = logging.getLogger("oms.simulator")


class Command(BaseCommand):
    help = "Run a simulated venue: a FIX 4.4 acceptor in front of price-time-priority order books."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="XSIM", help="The venue's CompID and name.")
        parser.add_argument("--port", type=int, default=9881)
        parser.add_argument("--clients", default="OMS", help="Comma-separated CompIDs allowed to log on.")

    def handle(self, *args, name: str, port: int, clients: str, **options):
        instruments = [
            InstrumentSpec(i.symbol, i.tick_size, i.lot_size) for i in Instrument.objects.filter(active=True)
        ]
        venue = Venue(name, instruments)
        state_dir = Path(settings.BASE_DIR) / "var" / settings.SERVICES.profile / "venues" / name
        sessions = [SessionSpec(name, client.strip()) for client in clients.split(",") if client.strip()]
        text = settings_text(acceptor=True, port=port, sessions=sessions, state_dir=state_dir)
        application = VenueApplication(venue)
        quickfix_settings = session_settings(text, state_dir / "acceptor.cfg")
        acceptor = fix.SocketAcceptor(
            application, fix.FileStoreFactory(quickfix_settings), quickfix_settings,
            fix.FileLogFactory(quickfix_settings),
        )  # fmt: skip
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        acceptor.start()
        log.info("venue %s: FIX 4.4 on 127.0.0.1:%d for %s; %d instruments", name, port, clients, len(instruments))
        stop.wait()
        acceptor.stop()
        log.info("venue %s stopped", name)
