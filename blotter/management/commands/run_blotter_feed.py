import logging
import signal
import threading

from django.core.management.base import BaseCommand

from blotter import feed

log = logging.getLogger("oms.blotter")


class Command(BaseCommand):
    help = "Run the blotter feed: committed log events to the browsers' websockets (one per deployment)."

    def handle(self, *args, **options):
        stopped = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopped.set())
        feed.run(stopped)
        log.info("blotter feed stopped")
