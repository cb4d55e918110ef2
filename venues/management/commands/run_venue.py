import logging
import random
import shutil
import signal
import threading
from decimal import Decimal
from pathlib import Path

import quickfix as fix
from django.conf import settings
from django.core.management.base import BaseCommand

from orders.models import Instrument
from venues.fix.config import SessionSpec, session_settings, settings_text
from venues.simulator.fix_app import VenueApplication
from venues.simulator.liquidity import OPENING_PRICES, MarketMaker
from venues.simulator.venue import InstrumentSpec, Venue

log = logging.getLogger("oms.simulator")


class Command(BaseCommand):
    help = "Run a simulated venue: a FIX 4.4 acceptor in front of price-time-priority order books."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="XSIM", help="The venue's CompID and name.")
        parser.add_argument("--port", type=int, default=9881)
        parser.add_argument("--clients", default="OMS", help="Comma-separated CompIDs allowed to log on.")
        parser.add_argument("--no-liquidity", action="store_true", help="No built-in market makers: an empty book.")
        parser.add_argument("--seed", type=int, default=1, help="Seeds the makers' random walk.")
        parser.add_argument("--spread-ticks", type=int, default=2)
        parser.add_argument("--levels", type=int, default=3)
        parser.add_argument("--step-ms", type=int, default=500, help="How often the makers requote.")

    def handle(self, *args, name: str, port: int, clients: str, no_liquidity: bool, seed: int, spread_ticks: int,
               levels: int, step_ms: int, **options):  # fmt: skip
        instruments = [
            InstrumentSpec(i.symbol, i.tick_size, i.lot_size) for i in Instrument.objects.filter(active=True)
        ]
        venue = Venue(name, instruments)
        state_dir = Path(settings.BASE_DIR) / "var" / settings.SERVICES.profile / "venues" / name
        # The books live in memory, so every start is a fresh trading day: FIX sequence numbers
        # too, or a client would be asked to resend a day that no longer exists here.
        shutil.rmtree(state_dir / "store", ignore_errors=True)
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
        makers = [] if no_liquidity else [
            MarketMaker(spec, OPENING_PRICES.get(spec.symbol, Decimal(100)), owner=f"mm-{name}",
                        spread_ticks=spread_ticks, levels=levels, rng=random.Random(f"{seed}-{spec.symbol}"))
            for spec in instruments
        ]  # fmt: skip
        acceptor.start()
        if makers:
            threading.Thread(target=_quote, args=(application, makers, step_ms / 1000, stop), daemon=True).start()
        log.info("venue %s: FIX 4.4 on 127.0.0.1:%d for %s; %d instruments", name, port, clients, len(instruments))
        stop.wait()
        acceptor.stop()
        log.info("venue %s stopped", name)


def _quote(application: VenueApplication, makers: list[MarketMaker], interval: float, stop: threading.Event) -> None:
    """The makers' clock: requote every `interval`; fills they cause reach the FIX sessions."""
    while not stop.wait(interval):
        for maker in makers:
            with application.lock:  # decide and send in one piece: reports stay in order
                for report in maker.step(application.venue):
                    application.send(report)
