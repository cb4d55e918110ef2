from datetime import date

from django.core.management.base import BaseCommand, CommandError

from oms_project import clock
from orders import calendars
from tradingday import services


class Command(BaseCommand):
    help = (
        "Make a trading day's end-of-day report (files in OMS_REPORTS_DIR, rows shown in admin). "
        "An existing report is kept unless --replace is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="The trading day, YYYY-MM-DD (default: the last one over).")
        parser.add_argument("--replace", action="store_true", help="Make the report again if it exists.")

    def handle(self, *args, date: str | None, replace: bool, **options):
        day = _parse(date) if date else calendars.oms_day().last_close(clock.now_ns())[0]
        try:
            report = services.end_of_day_report_make(day, replace=replace)
        except services.ReportExists as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"cannot write the report: {exc}") from exc
        self.stdout.write(f"end-of-day report of {day}: {report.accounts} account(s), {report.orders} order(s), "
                          f"{report.fills} fill(s)\n  {report.json_path}\n  {report.csv_path}")  # fmt: skip


def _parse(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--date {text!r} is not a date YYYY-MM-DD") from exc
