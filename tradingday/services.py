"""The trading day's services: the close sweep and the end-of-day report. The beat tasks
(tradingday/tasks.py) and `manage.py end_of_day` call these; nothing else is in them.

Time is `oms_project.clock.now_ns()` (the wall clock plus OMS_CLOCK_OFFSET_S) unless a caller
passes `now_ns`: tests and rehearsals drive a close at any hour.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db import transaction

from oms_project import clock
from orders import bus, calendars
from orders.domain import close
from orders.domain import commands as cmd
from orders.domain.calendar import CalendarError
from orders.domain.values import LIVE_STATUSES
from orders.models import Account, Fill, Order, Position, ns_to_datetime
from reconciliation import services as reconciliation_services
from tradingday.domain import report as eod
from tradingday.models import CloseSweep, EndOfDayAccount, EndOfDayReport
from venues.models import Venue

log = logging.getLogger("oms.tradingday")

ACTOR = "system:close"
WAITING = "waiting"  # a sweep's outcome while orders of the day wait on the venue's answer
# A venue's close is swept to the end once the engine found nothing of the day left working there
# (or refused the sweep: an unknown venue); "accepted" and "waiting" sweeps run again.
SWEPT = ("no_change", "error")
NS = 1_000_000_000


def _grace_ns() -> int:
    return int(settings.OMS_CLOSE_GRACE_SECONDS * NS)


# -- the close: DAY orders the venues left -----------------------------------------------------------


def day_orders_expire(now_ns: int | None = None, only: Iterable[str] | None = None) -> list[CloseSweep]:
    """For every venue (or those named in `only`) whose last close was more than the grace period
    ago and is not swept to the end yet: send the engine `ExpireDayOrders` (orders/engine/day_end.py:
    a cancel to the venue for each DAY order still working there, an expiry for what never reached
    it), and record the sweep. A sweep that asked for cancels, or found orders waiting on a
    request's answer, runs again on the next call (beat: every minute) until the engine finds
    nothing of the day left working there; the engine sends no cancel twice. The engine
    unreachable: nothing is recorded, the next run tries again."""
    now = clock.now_ns() if now_ns is None else now_ns
    done = []
    venues = Venue.objects.order_by("name")
    if only is not None:
        venues = venues.filter(name__in=list(only))
    for venue in venues:
        try:
            calendar = calendars.venue_calendar_of(venue)
        except CalendarError as exc:
            log.error("venue %s: %s; its DAY orders are not swept", venue.name, exc)
            continue
        day, close_ns = calendar.last_close(now - _grace_ns())
        if CloseSweep.objects.filter(venue=venue.name, trading_day=day, outcome__in=SWEPT).exists():
            continue
        command = cmd.ExpireDayOrders(bus.new_command_id(), now, ACTOR, venue.name, day.isoformat(), close_ns)
        try:
            answer = bus.send(command)
        except bus.EngineUnavailable as exc:
            log.warning("close sweep of %s (%s): %s; trying again next run", venue.name, day, exc)
            continue
        outcome = WAITING if answer.get("reason") == close.WAITING else answer["outcome"]
        sweep, _ = CloseSweep.objects.update_or_create(
            venue=venue.name, trading_day=day,
            defaults={"close_at": ns_to_datetime(close_ns), "swept_at": ns_to_datetime(now),
                      "outcome": outcome, "text": (answer.get("text") or answer.get("reason") or "")[:300]},
        )  # fmt: skip
        log.info("close sweep of %s, trading day %s: %s %s", venue.name, day, sweep.outcome, sweep.text)
        done.append(sweep)
    return done


# -- the end-of-day report -----------------------------------------------------------------------


class ReportExists(Exception):
    """The day's report is there already; `replace=True` makes it again."""


def end_of_day_due(now_ns: int | None = None) -> date | None:
    """The latest OMS trading day that is over (its end and every venue's close of it, plus the
    grace period) by now, if its report is not made yet."""
    now = (clock.now_ns() if now_ns is None else now_ns) - _grace_ns()
    day, _ = calendars.oms_day().last_close(now)
    for venue in Venue.objects.filter(active=True):
        try:
            calendar = calendars.venue_calendar_of(venue)
        except CalendarError:
            continue  # said by the sweep; the report does not wait for a venue it cannot place
        if calendar.is_trading_day(day) and calendar.close_at(day) > now:
            return None  # that venue's day is not over yet
    if EndOfDayReport.objects.filter(trading_day=day).exists():
        return None
    return day


def end_of_day_run(now_ns: int | None = None) -> EndOfDayReport | None:
    """The beat task's: the report of the day just over, once (never replaces one)."""
    day = end_of_day_due(now_ns)
    if day is None:
        return None
    try:
        return end_of_day_report_make(day, by="beat", now_ns=now_ns)
    except ReportExists:
        return None  # made meanwhile (manage.py end_of_day)


def end_of_day_report_make(
    day: date, *, replace: bool = False, by: str = "manage.py end_of_day", now_ns: int | None = None
) -> EndOfDayReport:
    """Make trading day `day`'s report: files eod-<day>.json and eod-<day>.csv in OMS_REPORTS_DIR
    and its rows. One report per day: an existing one raises ReportExists unless `replace`, which
    writes the files and rows afresh (the old ones are gone)."""
    existing = EndOfDayReport.objects.filter(trading_day=day).first()
    if existing is not None and not replace:
        raise ReportExists(f"the end-of-day report of {day} exists (made {existing.generated_at:%Y-%m-%d %H:%M:%S} "
                           f"UTC by {existing.generated_by}); replace it with --replace")  # fmt: skip
    generated_at = ns_to_datetime(clock.now_ns() if now_ns is None else now_ns)
    notes: list[str] = []
    content = eod.report(day, generated_at, _account_days(day), notes)
    directory = Path(settings.OMS_REPORTS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = directory / f"eod-{day.isoformat()}.json", directory / f"eod-{day.isoformat()}.csv"
    _write(json_path, json.dumps(content, indent=2) + "\n")
    _write(csv_path, eod.csv_text(content))
    with transaction.atomic():
        EndOfDayReport.objects.filter(trading_day=day).delete()
        record = EndOfDayReport.objects.create(
            trading_day=day, generated_at=generated_at, generated_by=by[:64], json_path=str(json_path),
            csv_path=str(csv_path), accounts=len(content["accounts"]),
            orders=sum(a["orders"]["total"] for a in content["accounts"]),
            fills=sum(a["fills"]["count"] for a in content["accounts"]), notes="\n".join(notes),
        )  # fmt: skip
        EndOfDayAccount.objects.bulk_create(
            EndOfDayAccount(report=record, account=a["account"], orders=a["orders"]["total"],
                            fills=a["fills"]["count"], notional=a["fills"]["notional"],
                            open_breaks=len(a["open_breaks"]), content=a)
            for a in content["accounts"]
        )  # fmt: skip
    log.info("end-of-day report of %s: %d account(s), %s", day, record.accounts, json_path)
    return record


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a reader never sees half a report."""
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _account_days(day: date) -> Iterable[eod.AccountDay]:
    calendar = calendars.oms_day()
    start = ns_to_datetime(calendar.close_at(calendar.previous_day(day)))
    end = ns_to_datetime(calendar.close_at(day))
    client_orders = Order.objects.filter(parent_id__isnull=True)
    for account in Account.objects.order_by("code").values_list("code", flat=True):
        orders = [_order_row(o) for o in client_orders.filter(account_id=account, trading_day=day).order_by("id")]
        carried = [_order_row(o) for o in client_orders.filter(account_id=account, trading_day__lt=day,
                                                               status__in=LIVE_STATUSES).order_by("id")]  # fmt: skip
        fills = [
            eod.FillRow(f.order_id, f.symbol, f.side, f.last_qty, f.last_px)
            for f in Fill.objects.filter(account_id=account, executed_at__gte=start, executed_at__lt=end,
                                         order__parent_id__isnull=True).exclude(amendment="busted").order_by("id")
        ]  # fmt: skip
        positions = [eod.PositionRow(p.symbol, p.quantity, p.avg_cost, p.realized_pnl)
                     for p in Position.objects.filter(account_id=account).order_by("symbol")]  # fmt: skip
        yield eod.AccountDay(account, orders, carried, fills, positions, open_breaks(account))


def _order_row(o: Order) -> eod.OrderRow:
    return eod.OrderRow(o.id, o.cl_ord_id, o.symbol, o.side, o.status, o.time_in_force, o.quantity, o.cum_qty,
                        o.trading_day)  # fmt: skip


def open_breaks(account: str) -> list[eod.BreakRow]:
    """The account's reconciliation breaks still open when the report is made (reconciliation/)."""
    return [
        eod.BreakRow(
            break_id=str(b.id),
            venue=b.venue,
            symbol=b.subject,
            oms_quantity=b.oms_quantity,
            venue_quantity=b.venue_quantity,
            opened_at=b.opened_at.isoformat(),
            text=b.text,
        )
        for b in reconciliation_services.open_breaks_list(account)
    ]


# -- readers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFile:
    path: Path
    content_type: str


def report_file(report: EndOfDayReport, kind: str) -> ReportFile | None:
    """The report's file of `kind` ("json" or "csv"), if it is still on disk."""
    if kind not in ("json", "csv"):
        return None
    path = Path(report.json_path if kind == "json" else report.csv_path)
    if not path.is_file():
        return None
    return ReportFile(path, "application/json" if kind == "json" else "text/csv")
