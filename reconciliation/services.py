"""Reconciliation services: run a reconciliation, resolve a break, and read breaks.

A run (`reconciliation_run`, from the Celery beat task `oms.reconcile` and `manage.py
reconcile_venues`) asks the venue connector for every active venue's side (venues/connector/
reconcile.py: positions per account by 35=AN, open orders by 35=AF), reads the OMS's side as of
the log position the connector noted, compares (reconciliation/domain/compare.py) and sends what
it found to the engine as one `RecordReconciliation` per venue: the engine opens, keeps or clears
the breaks (single writer). A venue that did not answer (session down, no connector) is reported
and left as it stands: no break opens or clears for lack of an answer. So is any part of an
answer that is not complete (an account whose position reports did not all come, the open
orders when the mass status answer did not): only what was answered completely is compared,
and the run says what was not (`VenueResult.detail`, `complete`).

Resolving (`break_resolve`) is for the risk and compliance roles (the permission
reconciliation.resolve_break); the engine records it, with the adjustment an accepted position
break books.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from orders import bus
from orders.domain import commands as cmd
from orders.domain.values import LIVE_STATUSES
from orders.models import Fill, Order, PositionAdjustment
from reconciliation.domain.compare import (
    Difference,
    OrderFigure,
    VenuePosition,
    compare_orders,
    compare_positions,
)
from reconciliation.models import ReconciliationBreak
from venues.models import Venue

log = logging.getLogger("oms.reconciliation")

RESOLVE_BREAK = "reconciliation.resolve_break"
LIVE = sorted(s.value for s in LIVE_STATUSES)
# The engine's refusals of a resolution, and the request field each one is about.
REFUSAL_FIELDS = {"missing_reason": "reason", "invalid_resolution": "resolution", "not_adjustable": "resolution",
                  "break_closed": "non_field_errors", "unknown_break": "non_field_errors"}  # fmt: skip


class NotAllowed(Exception):
    """The caller's role may not resolve breaks (REST 403)."""


class NotFound(Exception):
    """No such break (REST 404)."""


class Refused(Exception):
    """The engine refused the resolution: `field` is the request field it is about."""

    def __init__(self, field: str, reason: str, text: str) -> None:
        super().__init__(text)
        self.field, self.reason, self.text = field, reason, text


@dataclass
class VenueResult:
    """One venue's part of a run, for people (the command prints it, the task logs it)."""

    venue: str
    answered: bool
    detail: str = ""  # why not answered, or what the answer missed
    accounts: list[str] = field(default_factory=list)  # those compared: asked and completely answered
    symbols: int = 0
    orders: int = 0
    differences: list[Difference] = field(default_factory=list)
    engine: str = ""  # what the engine did with the findings

    @property
    def complete(self) -> bool:
        """Every part asked for was answered and compared."""
        return self.answered and not self.detail

    @property
    def matches(self) -> bool:
        """What was compared matches (see `complete` for whether that was everything)."""
        return self.answered and not self.differences


# -- a run ----------------------------------------------------------------------------------------


def start_of_day() -> datetime:
    """The venues report the current trading day: UTC midnight on."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def accounts_at(venue: str, since: datetime) -> list[str]:
    """The accounts to ask the venue about: those with an order there today or still live, an
    adjustment booked there today, or a position break open there."""
    orders = Order.objects.filter(
        Q(venue=venue) & (Q(created_at__gte=since) | Q(status__in=LIVE)), strategy=""
    )  # parents: their children are at the venue
    codes = set(orders.values_list("account_id", flat=True).distinct())
    codes |= set(PositionAdjustment.objects.filter(venue=venue, adjusted_at__gte=since)
                 .values_list("account_id", flat=True).distinct())  # fmt: skip
    codes |= set(ReconciliationBreak.objects.filter(venue=venue, status="open", kind="position")
                 .values_list("account", flat=True))  # fmt: skip
    return sorted(codes)


def oms_positions(venue: str, since: datetime, as_of: int) -> dict[tuple[str, str], Decimal]:
    """Net quantity per (account, symbol) at `venue`: the fills booked since `since` on orders
    routed there (a busted fill never happened; a corrected one counts as corrected) plus the
    adjustments booked there, both up to log position `as_of`."""
    fills, orders, adjustments = Fill._meta.db_table, Order._meta.db_table, PositionAdjustment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT account_code, symbol, SUM(quantity) FROM ("
            f" SELECT f.account_code, f.symbol,"
            f" CASE WHEN f.side = 'buy' THEN f.last_qty ELSE -f.last_qty END AS quantity"
            f" FROM {fills} f JOIN {orders} o ON o.id = f.order_id"
            f" WHERE o.venue = %s AND f.executed_at >= %s AND f.amendment <> 'busted' AND f.id <= %s"
            f" UNION ALL SELECT account_code, symbol, quantity FROM {adjustments}"
            f" WHERE venue = %s AND adjusted_at >= %s AND id <= %s"
            f") moves GROUP BY account_code, symbol",
            [venue, since, as_of, venue, since, as_of],
        )
        return {(account, symbol): quantity for account, symbol, quantity in cursor.fetchall() if quantity}


def oms_orders(venue: str, named: list[int], asked_ns: int, as_of_ns: int) -> tuple[dict, dict, set[str]]:
    """The OMS's side of the open orders at `venue`: (its live orders there, its view of the other
    orders the venue named, the ids to leave out this run). Orders created after the question was
    asked, or changed after the answer was complete, are left out: the two sides saw them at
    different moments (the next run compares them)."""
    live, other, skipped = {}, {}, set()
    rows = Order.objects.filter(
        Q(venue=venue) & (Q(status__in=LIVE) | Q(id__in=named)), strategy=""
    )  # parents: their children are at the venue
    for order in rows.only("id", "account_id", "symbol", "status", "cum_qty", "created_at_ns", "updated_at_ns"):
        if order.created_at_ns > asked_ns or order.updated_at_ns > as_of_ns:
            skipped.add(str(order.id))
            continue
        figure = OrderFigure(order.account_id, order.symbol, order.status, order.cum_qty)
        (live if order.status in LIVE else other)[str(order.id)] = figure
    return live, other, skipped


def compare_answer(venue: str, answer: dict[str, Any], threshold: Decimal) -> VenueResult:
    """The venue's answer beside the OMS's books: what differs (the engine is not told here)."""
    # Only the accounts the venue answered completely: one it did not is not flat there.
    accounts = [a for a in answer.get("accounts_answered", []) if a in answer["accounts"]]
    theirs_positions = {}
    for p in answer["positions"]:
        if p["account"] not in accounts:
            continue
        key = (p["account"], p["symbol"])
        price = Decimal(p["price"]) if p.get("price") else None
        held = theirs_positions.get(key, VenuePosition(Decimal(0)))
        theirs_positions[key] = VenuePosition(held.quantity + Decimal(p["quantity"]), price)
    ours_positions = oms_positions(venue, start_of_day(), int(answer["as_of_position"]))
    differences = compare_positions(venue, accounts, theirs_positions, ours_positions, threshold)
    theirs_orders: dict[str, OrderFigure] = {}
    for o in answer["orders"]:
        order_id = o["order_id"] or f"venue:{o['venue_order_id']}"  # not one of ours: named by the venue's id
        theirs_orders[order_id] = OrderFigure(o["account"], o["symbol"], o["status"], Decimal(o["cum_qty"]))
    named = [int(i) for i in theirs_orders if i.isdigit()]
    live, other, skipped = oms_orders(venue, named, int(answer["asked_ns"]), int(answer["as_of_ns"]))
    if answer.get("orders_complete"):
        theirs = {k: v for k, v in theirs_orders.items() if k not in skipped}
        differences += compare_orders(venue, theirs, live, other, threshold)
    return VenueResult(
        venue, True, "; ".join(answer.get("incomplete") or []), accounts,
        symbols=len({k for k in set(theirs_positions) | set(ours_positions) if k[0] in accounts}),
        orders=len(set(theirs_orders) | set(live)), differences=differences,
    )  # fmt: skip


def _connector() -> ModuleType:
    """The venue connector's request/answer side, imported when a run asks: it loads quickfix,
    and this module is imported at every process's start (by the admin), the engine's too."""
    from venues.connector import reconcile

    return reconcile


def reconciliation_run(venues: list[str] | None = None, *, actor: str = "system",
                       timeout: float | None = None) -> list[VenueResult]:  # fmt: skip
    """Reconcile every active venue (or those named) now; what each showed, and what the engine did."""
    active = list(Venue.objects.filter(active=True).order_by("name").values_list("name", flat=True))
    names = [v for v in active if venues is None or v in venues]
    threshold = Decimal(settings.OMS_RECONCILE_THRESHOLD)
    since = start_of_day()
    run_id = f"rec-{uuid.uuid4().hex[:16]}"
    asked = {name: accounts_at(name, since) for name in names}
    within = settings.OMS_RECONCILE_ANSWER_SECONDS if timeout is None else timeout
    for name, accounts in asked.items():
        _connector().request(run_id, name, accounts, within)
    answers = _answers(run_id, names, within)
    results = []
    for name in names:
        answer = answers.get(name)
        if answer is None or answer.get("state") != "answered":
            why = "no answer from the venue connector (is run_venues running?)" if answer is None else (
                f"session {answer.get('state')}: {answer.get('detail', '')}")  # fmt: skip
            results.append(VenueResult(name, False, why, asked[name]))
            continue
        result = compare_answer(name, answer, threshold)
        command = cmd.RecordReconciliation(
            bus.new_command_id(), bus.now_ns(), actor, name, run_id, tuple(result.accounts),
            bool(answer.get("orders_complete")), tuple(result.differences),
        )  # fmt: skip
        try:
            reply = bus.send(command)
        except bus.EngineUnavailable as exc:  # nothing recorded: the next run finds the same again
            result.engine = f"not recorded: {exc}"
        else:
            result.engine = reply.get("text", "") or reply.get("outcome", "")
        results.append(result)
    for result in results:
        if not result.answered:
            log.warning("%s: not reconciled: %s", result.venue, result.detail)
        elif result.differences:
            log.warning("%s: %d difference(s): %s", result.venue, len(result.differences), result.engine)
        if result.answered and result.detail:
            log.warning("%s: reconciled in part; left as it stands: %s", result.venue, result.detail)
        elif result.answered and not result.differences:
            log.info("%s: reconciled, %d symbols and %d open orders match", result.venue, result.symbols, result.orders)
    return results


def _answers(run_id: str, names: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    answers: dict[str, dict[str, Any]] = {}
    while True:
        for name in names:
            if name not in answers and (answer := _connector().read_answer(run_id, name)) is not None:
                answers[name] = answer
        if len(answers) == len(names) or time.monotonic() > deadline:
            return answers
        time.sleep(0.05)


# -- resolving ------------------------------------------------------------------------------------


def may_resolve(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_perm(RESOLVE_BREAK))


def break_resolve(user: Any, break_id: int, resolution: str, reason: str) -> str:
    """Accept the venue's figure or dismiss the break, as `user`, for `reason`; the engine's answer
    once recorded. Raises NotAllowed, NotFound, Refused, bus.EngineUnavailable."""
    if not may_resolve(user):
        raise NotAllowed("only the risk and compliance roles may resolve reconciliation breaks")
    if not ReconciliationBreak.objects.filter(id=break_id).exists():
        raise NotFound(f"no reconciliation break {break_id}")
    command = cmd.ResolveReconciliationBreak(
        bus.new_command_id(), bus.now_ns(), f"user:{user.get_username()}", break_id, resolution, reason
    )
    reply = bus.send(command)
    if reply["outcome"] != "accepted":
        reason_code = reply.get("reason", "") or "error"
        raise Refused(REFUSAL_FIELDS.get(reason_code, "non_field_errors"), reason_code, reply.get("text", ""))
    return reply.get("text", "")


# -- readers --------------------------------------------------------------------------------------


def break_list(*, status: str | None = None, venue: str | None = None,
               account: str | None = None) -> QuerySet[ReconciliationBreak]:  # fmt: skip
    breaks = ReconciliationBreak.objects.all()
    if status == "resolved":
        breaks = breaks.filter(status__in=["accepted", "dismissed"])
    elif status:
        breaks = breaks.filter(status=status)
    if venue:
        breaks = breaks.filter(venue=venue)
    if account:
        breaks = breaks.filter(account=account)
    return breaks.order_by("-id")


def open_breaks_list(account: str | None = None) -> list[ReconciliationBreak]:
    """The breaks open now (oldest first), of one account or all: for health, the blotter and the
    end-of-day report."""
    return list(break_list(status="open", account=account).order_by("id"))


def health_component() -> str:
    """ "ok", or how many breaks are open and the oldest (health shows it, without failing)."""
    breaks = open_breaks_list()
    if not breaks:
        return "ok"
    oldest = breaks[0]
    age = (datetime.now(UTC) - oldest.opened_at).total_seconds()
    return (f"{len(breaks)} open break(s); the oldest, break {oldest.id} ({oldest.text}), "
            f"open for {_age(age)}")  # fmt: skip


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
