from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from orders.engine import Engine, WriterLockHeld


class Command(BaseCommand):
    help = "Run the engine: the single writer of the event log. Ctrl-C or SIGTERM stops it after its batch."
    # No system checks at start: they import the URLconf (every view, the REST framework, the
    # schema) that the engine never serves, ~0.3 s of CPU of a restart after a crash. `manage.py
    # check`, the web process and the tests run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--standby",
            action="store_true",
            help="If another engine holds the writer lock, wait for it instead of exiting.",
        )
        parser.add_argument("--batch-max", type=int, default=None, help="Most commands in one commit.")
        parser.add_argument(
            "--full-replay",
            action="store_true",
            help="Rebuild the state from the whole log, not from the newest snapshot + the log's tail.",
        )

    def handle(self, *args, standby: bool, batch_max: int | None, full_replay: bool, **options):
        # The engine keeps one connection for its whole life: the writer lock lives on it.
        connection.settings_dict["OPTIONS"].pop("pool", None)  # its own connection, never a pooled one
        connection.settings_dict["CONN_MAX_AGE"] = None
        # Never the debug cursor (DEBUG=True): it formats and keeps every statement of a
        # process that runs for days and whose commit path is the OMS's throughput.
        settings.DEBUG = False
        engine = Engine(batch_max=batch_max, full_replay=full_replay)
        try:
            engine.acquire_writer_lock(wait=standby)
        except WriterLockHeld as exc:
            raise CommandError(f"{exc}. Only one engine may write; stop the other one or use --standby.") from exc
        self.stdout.write(
            f"engine: writer lock taken; recovering from the log (bus prefix {settings.OMS_BUS_PREFIX!r})"
        )
        engine.run()
