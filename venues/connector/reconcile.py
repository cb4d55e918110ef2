"""Position reconciliation: the OMS's net position at a venue against the venue's own report.

The connector asks each venue for its positions (35=AN) every `reconcile_seconds`, and when an
operator asks (`manage.py reconcile_venues`, through a Redis channel). The venue answers with
one PositionReport (35=AP) per symbol it holds for our session, or 35=AO when it holds none.
The OMS side is the fills booked today on orders routed to that venue (parents excluded: their
fills are their children's). The result, matching or not, is published for the command to
print and logged; a difference is a warning in the log.

`Reconciliation` is the connector's part: it asks, collects the answers per request (PosReqID
710) until the venue has sent them all (727 TotalNumPosReports), and compares them off the
quickfix thread. The functions below it are what it and `manage.py reconcile_venues` share.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import quickfix as fix
from django.db import connection

from orders import bus
from orders.models import Fill, Order
from venues.connector.link import VenueLink
from venues.connector.threads import spawn
from venues.fix.messages import getter
from venues.fix.positions import PositionReport, parse_position_report, request_for_positions_message

log = logging.getLogger("oms.connector")

REQUEST_CHANNEL = "venues:reconcile"
RESULT_TTL_SECONDS = 24 * 3600


def result_key(venue: str) -> str:
    return bus.key(f"venue:{venue}:reconciliation")


@dataclass
class Collecting:
    """The reports of one request, until the venue has sent them all."""

    venue: str
    started_ns: int
    positions: dict[str, Decimal] = field(default_factory=dict)
    expected: int | None = None
    received: int = 0

    def take(self, report: PositionReport | None) -> bool:
        """Book one 35=AP (None: the 35=AO that says there is nothing); True once the answer is complete."""
        if report is None:
            return True
        self.received += 1
        self.expected = int(report.total_reports or 1)
        try:
            net = Decimal(report.long_qty or "0") - Decimal(report.short_qty or "0")
        except InvalidOperation:
            net = Decimal(0)
        symbol = report.symbol or "?"
        self.positions[symbol] = self.positions.get(symbol, Decimal(0)) + net
        return self.received >= self.expected


class Reconciliation:
    """The connector's part: asks each logged-on venue, collects its answer, compares it."""

    def __init__(self, links: dict[str, VenueLink], every_seconds: float, stopped: threading.Event) -> None:
        self.links = links
        self.every_seconds = every_seconds
        self.stopped = stopped
        self._collecting: dict[str, Collecting] = {}
        self._lock = threading.Lock()

    def run(self) -> None:
        """Reconcile every `every_seconds`, and at once when an operator asks."""
        pubsub = bus.client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(bus.key(REQUEST_CHANNEL))
        last = time.monotonic()
        try:
            while not self.stopped.is_set():
                message = pubsub.get_message(timeout=1.0)
                wanted: str | None = None
                if message is not None:
                    wanted = str(message.get("data"))
                elif time.monotonic() - last >= self.every_seconds:
                    wanted = "*"
                if wanted is None:
                    continue
                last = time.monotonic()
                for link in self.links.values():
                    if link.up.is_set() and wanted in ("*", link.name):
                        try:
                            self.ask(link)
                        except Exception:
                            log.exception("%s: could not ask for positions", link.name)
        finally:
            pubsub.close()

    def ask(self, link: VenueLink) -> None:
        """Ask the venue for our positions; the answer is compared when it is complete."""
        request_id = f"rec-{link.name}-{time.time_ns()}"
        with self._lock:
            self._collecting[request_id] = Collecting(link.name, time.time_ns())
        business_date = datetime.now(UTC).strftime("%Y%m%d")
        link.send(request_for_positions_message(request_id, link.sender, business_date))

    def on_answer(self, link: VenueLink, message: fix.Message) -> None:
        """35=AP or 35=AO, on quickfix's thread."""
        request_id = getter(message)(710) or ""
        with self._lock:
            collecting = self._collecting.get(request_id)
            if collecting is None:
                return
            report = parse_position_report(message) if message.getHeader().getField(35) == "AP" else None
            if not collecting.take(report):
                return
            del self._collecting[request_id]
        spawn(self._compare, collecting)

    def _compare(self, collecting: Collecting) -> None:
        ours = oms_positions(collecting.venue, start_of_day())
        result = compare(collecting.venue, collecting.positions, ours)
        publish(result)
        if result["matches"]:
            log.info("%s: positions reconciled: %d symbols match", collecting.venue, result["symbols"])
        else:
            log.warning("%s: positions differ from the venue's: %s", collecting.venue, result["differences"])


def oms_positions(venue: str, since: datetime) -> dict[str, Decimal]:
    """Net quantity per symbol of the fills booked since `since` on orders routed to `venue`
    (a busted fill never happened; a corrected one counts as corrected)."""
    fills, orders = Fill._meta.db_table, Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT f.symbol, SUM(CASE WHEN f.side = 'buy' THEN f.last_qty ELSE -f.last_qty END) "
            f"FROM {fills} f JOIN {orders} o ON o.id = f.order_id "
            f"WHERE o.venue = %s AND f.executed_at >= %s AND f.amendment <> 'busted' GROUP BY f.symbol",
            [venue, since],
        )
        return {symbol: quantity for symbol, quantity in cursor.fetchall() if quantity}


def compare(venue: str, theirs: dict[str, Decimal], ours: dict[str, Decimal]) -> dict[str, Any]:
    differences = [
        {"symbol": symbol, "oms": str(ours.get(symbol, 0)), "venue": str(theirs.get(symbol, 0))}
        for symbol in sorted(set(theirs) | set(ours))
        if theirs.get(symbol, Decimal(0)) != ours.get(symbol, Decimal(0))
    ]
    return {
        "venue": venue,
        "at_ns": time.time_ns(),
        "matches": not differences,
        "symbols": len(set(theirs) | set(ours)),
        "differences": differences,
    }


def start_of_day() -> datetime:
    """The venues report the current trading day: UTC midnight on."""
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def publish(result: dict[str, Any]) -> None:
    bus.client().set(result_key(result["venue"]), json.dumps(result), ex=RESULT_TTL_SECONDS)


def read(venue: str) -> dict[str, Any] | None:
    raw = bus.client().get(result_key(venue))
    return json.loads(raw) if raw else None


def request(venue: str | None = None) -> None:
    """Ask the running connector to reconcile now (every venue when `venue` is None)."""
    bus.client().publish(bus.key(REQUEST_CHANNEL), venue or "*")
