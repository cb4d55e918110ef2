from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from orders import snapshots
from orders.engine.snapshot_codec import SnapshotError


class Command(BaseCommand):
    help = (
        "Check that the newest usable snapshot (or the one at --position) plus the log's tail equals a full "
        "replay of the log, by state hash; prints what differs. Exit 1 on a mismatch. Safe while the engine runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--position", type=int, default=None, help="The snapshot at this log position.")

    def handle(self, *args, position: int | None, **options):
        with tqdm(unit="ev", unit_scale=True, desc="folding", disable=None) as bar:
            try:
                verdict = snapshots.snapshot_verify(position=position, progress=bar.update)
            except SnapshotError as exc:
                raise CommandError(f"the snapshot cannot be used: {exc}") from exc
        start = verdict.start
        for reason in start.skipped:
            self.stderr.write(self.style.WARNING(reason))
        if not start.from_snapshot:
            self.stdout.write(self.style.WARNING(
                f"no usable snapshot at or before position {verdict.position}: nothing to verify"
            ))  # fmt: skip
            return
        self.stdout.write(
            f"{start.describe()}; full replay to position {verdict.position} in {verdict.replay_seconds:.2f}s"
        )
        if verdict.ok:
            self.stdout.write(self.style.SUCCESS(
                f"OK: the snapshot at position {start.snapshot_position} + {start.tail_events} tail events equals "
                f"a full replay to position {verdict.position} (state hash {verdict.actual_hash[:16]})"
            ))  # fmt: skip
            return
        self.stdout.write(self.style.ERROR(
            f"MISMATCH: the snapshot at position {start.snapshot_position} + tail differs from a full replay "
            f"(state hash {verdict.actual_hash[:16]}, replay {verdict.expected_hash[:16]})"
        ))  # fmt: skip
        for difference in verdict.differences:
            self.stdout.write(f"  {difference}")
        raise SystemExit(1)
