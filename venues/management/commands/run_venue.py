import argparse
import logging
import os
import random
import signal
import threading
from decimal import Decimal
from pathlib import Path

import quickfix as fix
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from oms_project import clock
from orders.calendars import venue_calendar, venue_calendar_of
from orders.domain.calendar import CalendarError
from orders.models import Instrument
from venues.fix.config import SessionSpec, parse_day_start, session_settings, settings_text
from venues.models import Venue as VenueRow
from venues.simulator.faults import FaultLoader
from venues.simulator.fix_app import VenueApplication
from venues.simulator.liquidity import OPENING_PRICES, MarketMaker, NoiseTrader
from venues.simulator.venue import InstrumentSpec, Venue

log = logging.getLogger("oms.simulator")

STOP_SECONDS = 5.0


class Command(BaseCommand):
    help = "Run a simulated venue: a FIX 4.4 acceptor in front of price-time-priority order books."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="XSIM", help="The venue's CompID and name.")
        parser.add_argument("--port", type=int, default=9881)
        parser.add_argument("--clients", default="OMS", help="Comma-separated CompIDs allowed to log on.")
        parser.add_argument("--no-liquidity", action="store_true", help="No built-in market makers: an empty book.")
        parser.add_argument(
            "--seed",
            type=int,
            default=1,
            help="Seeds the makers' opening prices, random walk and sizes, and the noise trader.",
        )
        parser.add_argument("--spread-ticks", type=int, default=2)
        parser.add_argument("--levels", type=int, default=3)
        parser.add_argument("--size-lots", type=int, default=5, help="The makers' smallest quote, in lots.")
        parser.add_argument("--step-ms", type=int, default=500, help="How often the makers requote.")
        parser.add_argument(
            "--trade-probability",
            type=float,
            default=0.2,
            help="The chance, per instrument and step, that the noise trader takes liquidity.",
        )
        parser.add_argument(
            "--close",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Expire the sessions' DAY orders at the venue's close (OMS_VENUE_CALENDAR); "
            "default: OMS_SIMULATOR_CLOSES.",
        )
        parser.add_argument(
            "--reset-on-logon",
            action="store_true",
            help="Sequence numbers start at 1 at every logon (and logout and disconnect), nothing is resent: "
            "for conformance scripts, never for trading sessions, which keep theirs for the day.",
        )

    def handle(self, *args, name: str, port: int, clients: str, no_liquidity: bool, seed: int, spread_ticks: int,
               levels: int, size_lots: int, step_ms: int, trade_probability: float, reset_on_logon: bool,
               close: bool | None, **options):  # fmt: skip
        instruments = [
            InstrumentSpec(i.symbol, i.tick_size, i.lot_size) for i in Instrument.objects.filter(active=True)
        ]
        venue = Venue(name, instruments)
        state_dir = Path(settings.BASE_DIR) / "var" / settings.SERVICES.profile / "venues" / name
        # FIX sequence numbers and the messages sent are kept for the trading day in the FileStore
        # under state_dir, across restarts: a client that reconnects gets what it missed resent
        # (ResendRequest / GapFill), as from a real venue. The books live in memory and are lost
        # with the process; a client's status requests find that out.
        sessions = [SessionSpec(name, client.strip(), reset_on_logon=reset_on_logon)
                    for client in clients.split(",") if client.strip()]  # fmt: skip
        text = settings_text(acceptor=True, port=port, sessions=sessions, state_dir=state_dir,
                             day_start=parse_day_start(settings.OMS_FIX_SESSION_START))  # fmt: skip
        calendar = None
        if settings.OMS_SIMULATOR_CLOSES if close is None else close:
            configured = VenueRow.objects.filter(name=name).first()
            try:
                calendar = venue_calendar_of(configured) if configured else venue_calendar(name)
            except CalendarError as exc:
                raise CommandError(str(exc)) from exc
        application = VenueApplication(venue, FaultLoader(name), calendar=calendar, now_ns=clock.now_ns)
        quickfix_settings = session_settings(text, state_dir / "acceptor.cfg")
        acceptor = fix.SocketAcceptor(
            application, fix.FileStoreFactory(quickfix_settings), quickfix_settings,
            fix.FileLogFactory(quickfix_settings),
        )  # fmt: skip
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        participants: list[MarketMaker | NoiseTrader] = []
        if not no_liquidity:
            for spec in instruments:
                rng = random.Random(f"{seed}-{spec.symbol}")
                # Each seed opens its own market: up to ten ticks either side of the demo's opening price.
                opening = OPENING_PRICES.get(spec.symbol, Decimal(100)) + spec.tick_size * rng.randint(-10, 10)
                participants.append(MarketMaker(spec, opening, owner=f"mm-{name}", spread_ticks=spread_ticks,
                                                levels=levels, size_lots=size_lots, rng=rng))  # fmt: skip
            for spec in instruments:
                participants.append(NoiseTrader(spec, owner=f"noise-{name}", probability=trade_probability,
                                                rng=random.Random(f"{seed}-{spec.symbol}-noise")))  # fmt: skip
        application.start()
        acceptor.start()
        if participants:
            threading.Thread(target=_trade, args=(application, participants, step_ms / 1000, stop), daemon=True,
                             name=f"{name}-liquidity").start()  # fmt: skip
        log.info("venue %s: FIX 4.4 on 127.0.0.1:%d for %s; %d instruments", name, port, clients, len(instruments))
        stop.wait()
        application.stop()
        # quickfix's Acceptor.stop() can spin forever in SocketServer::close (seen with py-spy in
        # the client gateway): give it STOP_SECONDS to log the sessions out, then leave regardless.
        stopper = threading.Thread(target=acceptor.stop, name="stop", daemon=True)
        stopper.start()
        stopper.join(STOP_SECONDS)
        if stopper.is_alive():
            log.warning("venue %s: quickfix did not stop within %.0fs; exiting anyway", name, STOP_SECONDS)
            logging.shutdown()
            os._exit(0)
        log.info("venue %s stopped", name)


def _trade(application: VenueApplication, participants: list[MarketMaker | NoiseTrader], interval: float,
           stop: threading.Event) -> None:  # fmt: skip
    """The built-in participants' clock: every `interval` each steps (makers requote, noise trades);
    the fills they cause reach the FIX sessions."""
    while not stop.wait(interval):
        for participant in participants:
            with application.lock:  # decide and queue in one piece: reports stay in order
                application.send_all(participant.step(application.venue))
