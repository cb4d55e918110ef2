"""Position reconciliation: the OMS's net position at a venue against the venue's own report.

The connector asks each venue for its positions (35=AN) every `reconcile_seconds`, and when an
operator asks (`manage.py reconcile_venues`, through a Redis channel). The venue answers with
one PositionReport (35=AP) per symbol it holds for our session, or 35=AO when it holds none.
The OMS side is the fills booked today on orders routed to that venue (parents excluded: their
fills are their children's). The result, matching or not, is published for the command to
print and logged; a difference is a warning in the log.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection

from orders import bus
from orders.models import Fill, Order

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

    def take(self, msg_type: str, fields: dict[int, str], long_short: tuple[str | None, str | None]) -> bool:
        """Book one AP/AO; True once the answer is complete."""
        if msg_type == "AO":
            return True
        self.received += 1
        self.expected = int(fields.get(727) or 1)
        long_qty, short_qty = long_short
        try:
            net = Decimal(long_qty or "0") - Decimal(short_qty or "0")
        except InvalidOperation:
            net = Decimal(0)
        symbol = fields.get(55) or "?"
        self.positions[symbol] = self.positions.get(symbol, Decimal(0)) + net
        return self.received >= self.expected


def oms_positions(venue: str, since: datetime) -> dict[str, Decimal]:
    """Net quantity per symbol of the fills booked since `since` on orders routed to `venue`."""
    fills, orders = Fill._meta.db_table, Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT f.symbol, SUM(CASE WHEN f.side = 'buy' THEN f.last_qty ELSE -f.last_qty END) "
            f"FROM {fills} f JOIN {orders} o ON o.id = f.order_id "
            f"WHERE o.venue = %s AND f.executed_at >= %s GROUP BY f.symbol",
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
