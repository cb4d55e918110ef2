from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from orders import rebuild
from orders.engine import WriterLockHeld


class Command(BaseCommand):
    help = (
        "Rebuild orders, fills and positions from the event log. With --verify, compare the live "
        "projections with a rebuild instead (changes nothing, safe while the engine runs); exit 1 on any difference."
    )

    def add_arguments(self, parser):
        parser.add_argument("--verify", action="store_true", help="Compare instead of rebuilding.")
        parser.add_argument("--batch-size", type=int, default=10_000)

    def handle(self, *args, verify: bool, batch_size: int, **options):
        total = rebuild.event_count()
        with tqdm(total=total, unit="ev", unit_scale=True, desc="replaying", disable=None) as bar:
            if verify:
                replayed, differences = rebuild.verify(bar.update, batch_size)
            else:
                try:
                    replayed = rebuild.rebuild(bar.update, batch_size)
                except WriterLockHeld as exc:
                    raise CommandError(
                        f"{exc}: stop the engine to rebuild, or use --verify, which is safe while it runs"
                    ) from exc
                differences = None
        if differences is None:
            self.stdout.write(self.style.SUCCESS(f"rebuilt the projections from {replayed} events"))
            return
        for difference in differences:
            self.stdout.write(difference.describe())
        if differences:
            self.stderr.write(self.style.ERROR(f"{len(differences)} differences after replaying {replayed} events"))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(f"projections match the log ({replayed} events replayed)"))
