from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders import snapshots


class Command(BaseCommand):
    help = (
        "Snapshot retention now (the worker runs it after each snapshot it takes): delete every snapshot but "
        "the newest --keep and the last one of each of the --keep-days days before today. The log keeps "
        "everything; a snapshot is derived from it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keep", type=int, default=None, help="Newest to keep (default OMS_SNAPSHOT_KEEP).")
        parser.add_argument(
            "--keep-days", type=int, default=None, help="Days before today whose last snapshot is kept "
            "(default OMS_SNAPSHOT_KEEP_DAYS)."
        )  # fmt: skip
        parser.add_argument("--dry-run", action="store_true", help="Say what would be deleted; delete nothing.")

    def handle(self, *args, keep: int | None, keep_days: int | None, dry_run: bool, **options):
        keep = settings.OMS_SNAPSHOT_KEEP if keep is None else keep
        keep_days = settings.OMS_SNAPSHOT_KEEP_DAYS if keep_days is None else keep_days
        if keep < 1 or keep_days < 0:
            raise CommandError("--keep must be at least 1 and --keep-days at least 0")
        pruned = snapshots.snapshot_prune(keep=keep, keep_days=keep_days, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb} {len(pruned.deleted)} snapshot(s) at positions {pruned.deleted or '-'}; "
            f"kept {len(pruned.kept)} at positions {pruned.kept or '-'}"
        )
