import time

from django.core.management.base import BaseCommand, CommandError

from venues.connector import reconcile
from venues.models import Venue


class Command(BaseCommand):
    help = (
        "Reconcile the OMS's positions at each venue against the venue's position reports (35=AN/AP), "
        "through the running connector. Exits 1 when any venue differs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--venue", action="append", default=[], help="Only this venue (repeatable).")
        parser.add_argument("--timeout", type=float, default=15.0)

    def handle(self, *args, venue: list[str], timeout: float, **options):
        active = list(Venue.objects.filter(active=True).order_by("name").values_list("name", flat=True))
        unknown = sorted(set(venue) - set(active))
        if unknown:
            raise CommandError(f"unknown or inactive venue(s): {', '.join(unknown)}")
        names = venue or active
        asked_at = time.time_ns()
        for name in names:
            reconcile.request(name)
        deadline = time.monotonic() + timeout
        results: dict[str, dict] = {}
        while len(results) < len(names):
            for name in names:
                result = reconcile.read(name)
                if result and result["at_ns"] >= asked_at:
                    results[name] = result
            if time.monotonic() > deadline:
                missing = ", ".join(sorted(set(names) - set(results)))
                raise CommandError(f"no answer from {missing} within {timeout:g}s: is run_venues connected?")
            time.sleep(0.1)
        differing = 0
        for name in names:
            result = results[name]
            if result["matches"]:
                self.stdout.write(f"{name}: positions match ({result['symbols']} symbols)")
                continue
            differing += 1
            self.stdout.write(f"{name}: positions differ")
            for d in result["differences"]:
                self.stdout.write(f"  {d['symbol']:<10} OMS {d['oms']:>14}  venue {d['venue']:>14}")
        if differing:
            raise SystemExit(1)
