import logging
import os
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from gateway.fix.gateway import Gateway
from venues.fix.config import parse_day_start

log = logging.getLogger("oms.gateway")


class Command(BaseCommand):
    help = "Run the client FIX gateway: a FIX 4.4 acceptor for client systems (sessions: ClientSession in admin)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=None, help="Default: OMS_FIX_PORT.")

    def handle(self, *args, port: int | None, **options):
        state_dir = Path(settings.BASE_DIR) / "var" / settings.SERVICES.profile / "gateway"
        gateway = Gateway(settings.OMS_FIX_COMPID, "127.0.0.1", port or settings.OMS_FIX_PORT, state_dir,
                          parse_day_start(settings.OMS_FIX_SESSION_START),
                          explain_unknown=settings.OMS_FIX_EXPLAIN_UNKNOWN)  # fmt: skip
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        gateway.start()
        stop.wait()
        log.info("client FIX gateway stopping")
        gateway.stop()
        log.info("client FIX gateway stopped")
        # Not a normal interpreter exit: quickfix's acceptor threads are still running (Gateway.stop
        # says why they are not stopped) and would call into Python while it finalizes.
        logging.shutdown()
        os._exit(0)
