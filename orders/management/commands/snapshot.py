from django.conf import settings
from django.core.management.base import BaseCommand
from tqdm import tqdm

from orders import snapshots


class Command(BaseCommand):
    help = (
        "Take a snapshot of the engine's state now: the newest usable snapshot plus the log's tail, folded "
        "here (the engine is not touched). Does nothing when no event came since the newest snapshot."
    )
    requires_system_checks: list[str] = []  # as run_engine: background work, no URLconf to import

    def add_arguments(self, parser):
        parser.add_argument(
            "--niceness",
            type=int,
            default=None,
            help="Raise the fold's nice value by this much (default OMS_SNAPSHOT_NICENESS; 0: normal priority).",
        )

    def handle(self, *args, niceness: int | None, **options):
        bar: tqdm | None = None

        def on_total(events: int) -> None:
            nonlocal bar
            bar = tqdm(total=events, unit="ev", unit_scale=True, desc="folding the tail", disable=None)

        def progress(events: int) -> None:
            if bar is not None:
                bar.update(events)

        try:
            taken = snapshots.snapshot_take(
                progress=progress,
                on_total=on_total,
                niceness=settings.OMS_SNAPSHOT_NICENESS if niceness is None else niceness,
            )
        finally:
            if bar is not None:
                bar.close()
        if taken is None:
            self.stdout.write("no snapshot taken: no event since the newest snapshot, or another one is being taken")
            return
        s = taken.snapshot
        self.stdout.write(self.style.SUCCESS(
            f"snapshot {s.id} at position {s.position}: {s.orders} orders, {s.size_bytes:,} bytes, "
            f"{taken.seconds:.2f}s (from {taken.start.describe()}; encoded and stored in {taken.encode_seconds:.2f}s)"
        ))  # fmt: skip
        for reason in taken.start.skipped:
            self.stderr.write(self.style.WARNING(reason))
