import logging
import signal
import threading
from pathlib import Path

import quickfix as fix
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from venues.connector.connector import Connector
from venues.fix.config import data_dictionary, session_settings
from venues.models import Venue

log = logging.getLogger("oms.connector")


class Command(BaseCommand):
    help = "Run the venue connectors: a FIX 4.4 initiator session to every active venue, routing from the log."

    def add_arguments(self, parser):
        parser.add_argument("--venue", action="append", default=[], help="Only this venue (repeatable).")
        parser.add_argument("--resync-seconds", type=float, default=30.0,
                            help="How often live orders are checked against the venue (35=H).")  # fmt: skip
        parser.add_argument("--reconnect-seconds", type=int, default=2)
        parser.add_argument("--reconcile-seconds", type=float, default=300.0,
                            help="How often positions are reconciled against the venues' reports (35=AN).")  # fmt: skip

    def handle(self, *args, venue: list[str], resync_seconds: float, reconnect_seconds: int,
               reconcile_seconds: float, **options):  # fmt: skip
        venues = list(Venue.objects.filter(active=True).order_by("name"))
        if venue:
            unknown = set(venue) - {v.name for v in venues}
            if unknown:
                raise CommandError(f"unknown or inactive venue(s): {', '.join(sorted(unknown))}")
            venues = [v for v in venues if v.name in venue]
        if not venues:
            raise CommandError("no active venue is configured (see the Venue table in admin)")
        state_dir = Path(settings.BASE_DIR) / "var" / settings.SERVICES.profile / "connector"
        text = initiator_settings(venues, state_dir, reconnect_seconds)
        connector = Connector(venues, resync_seconds=resync_seconds, reconcile_seconds=reconcile_seconds)
        quickfix_settings = session_settings(text, state_dir / "initiator.cfg")
        initiator = fix.SocketInitiator(
            connector, fix.FileStoreFactory(quickfix_settings), quickfix_settings,
            fix.FileLogFactory(quickfix_settings),
        )  # fmt: skip
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        connector.start_workers()
        initiator.start()
        for v in venues:
            log.info("connecting to %s at %s:%d as %s -> %s", v.name, v.host, v.port, v.sender_comp_id,
                     v.target_comp_id)  # fmt: skip
        stop.wait()
        log.info("venue connectors stopping")
        connector.stop()
        initiator.stop()
        log.info("venue connectors stopped")


def initiator_settings(venues: list[Venue], state_dir: Path, reconnect_seconds: int) -> str:
    """One initiator session per venue. Sequence numbers restart at every logon: recovery is the
    connector's status resync, never a replay of old messages (see venues/connector/connector.py)."""
    lines = [
        "[DEFAULT]",
        "ConnectionType=initiator",
        "BeginString=FIX.4.4",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        f"FileStorePath={state_dir / 'store'}",
        f"FileLogPath={state_dir / 'log'}",
        "UseDataDictionary=Y",
        f"DataDictionary={data_dictionary()}",
        "ValidateUserDefinedFields=N",
        "ValidateFieldsOutOfOrder=N",
        "CheckLatency=N",
        "SocketNodelay=Y",
        f"ReconnectInterval={reconnect_seconds}",
        "ResetOnLogon=Y",
        "ResetOnLogout=Y",
        "ResetOnDisconnect=Y",
    ]
    for v in venues:
        lines += [
            "",
            "[SESSION]",
            f"SenderCompID={v.sender_comp_id}",
            f"TargetCompID={v.target_comp_id}",
            f"SocketConnectHost={v.host}",
            f"SocketConnectPort={v.port}",
            f"HeartBtInt={v.heartbeat_seconds}",
        ]
    return "\n".join(lines) + "\n"
