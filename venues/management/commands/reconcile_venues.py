from django.core.management.base import BaseCommand, CommandError

from orders import bus
from reconciliation import services
from venues.models import Venue


class Command(BaseCommand):
    help = (
        "Reconcile now: ask each venue (through the running connector) for its positions (35=AN) and open "
        "orders (35=AF), compare them with the OMS's, and record breaks through the engine, as the beat task "
        "does. Prints what each venue showed; exits 1 when any venue differs or did not answer."
    )

    def add_arguments(self, parser):
        parser.add_argument("--venue", action="append", default=[], help="Only this venue (repeatable).")
        parser.add_argument("--timeout", type=float, default=20.0, help="Seconds to wait for the venues' answers.")

    def handle(self, *args, venue: list[str], timeout: float, **options):
        active = set(Venue.objects.filter(active=True).values_list("name", flat=True))
        unknown = sorted(set(venue) - active)
        if unknown:
            raise CommandError(f"unknown or inactive venue(s): {', '.join(unknown)}")
        try:
            results = services.reconciliation_run(venue or None, actor="system:reconcile_venues", timeout=timeout)
        except bus.EngineUnavailable as exc:
            raise CommandError(f"the engine did not record the findings: {exc}") from exc
        failed = 0
        for result in results:
            if not result.answered:
                failed += 1
                self.stdout.write(f"{result.venue}: no answer: {result.detail}")
                continue
            if result.matches:
                accounts = ", ".join(result.accounts) or "none"
                self.stdout.write(f"{result.venue}: positions match ({result.symbols} symbols, accounts {accounts}); "
                                  f"{result.orders} open orders match")  # fmt: skip
            else:
                failed += 1
                self.stdout.write(f"{result.venue}: differs")
                for d in result.differences:
                    self.stdout.write(f"  {d.kind:<8} {d.text}")
            if result.detail:
                self.stdout.write(f"  incomplete: {result.detail}")
            self.stdout.write(f"  engine: {result.engine}")
        if failed:
            raise SystemExit(1)
