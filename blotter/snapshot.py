"""A blotter snapshot: what a viewer sees, as of one log position.

The projections are written in the transaction that appends their events, so reading them and
the log's last position in one REPEATABLE READ transaction gives a state that is exactly the
log up to that position: nothing half-applied, nothing after it.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from orders import calendars, store
from orders.domain.calendar import trading_day
from orders.domain.values import PENDING_STATUSES, WORKING_STATUSES
from orders.models import Fill, Order, Position
from orders.serializers import FillSerializer, OrderSerializer, PositionSerializer
from reconciliation.models import ReconciliationBreak
from reconciliation.serializers import BreakSerializer
from risk.domain.kill_switch import Scope
from risk.models import KillSwitch
from risk.serializers import KillSwitchSerializer

OPEN = [s.value for s in WORKING_STATUSES | PENDING_STATUSES]
# A websocket message is at most 1 MiB (daphne): a snapshot goes in parts of at most this many rows.
PART_ROWS = 1000
LISTS = ("orders", "fills", "positions", "kill_switches", "breaks")


def parts(snapshot: dict[str, Any], rows: int | None = None) -> list[dict[str, Any]]:
    """The snapshot as messages of at most `rows` rows each, in order; every part but the last
    says `"more": true` (the client puts them together before it applies any)."""
    rows = rows or PART_ROWS
    pending = [(name, row) for name in LISTS for row in snapshot[name]]
    chunks = [pending[i : i + rows] for i in range(0, len(pending), rows)] or [[]]
    messages = []
    for index, chunk in enumerate(chunks):
        message: dict[str, Any] = {"type": "snapshot", "position": snapshot["position"], **{n: [] for n in LISTS}}
        for name, row in chunk:
            message[name].append(row)
        if index < len(chunks) - 1:
            message["more"] = True
        messages.append(message)
    return messages


def take(accounts: frozenset[str] | None, username: str) -> dict[str, Any]:
    """The snapshot message for a viewer who sees `accounts` (None: all): today's orders and any
    older still open, parents and children; today's fills; positions; engaged kill switches; and,
    for those who see every account, the open reconciliation breaks."""
    today = trading_day(time.time_ns(), calendars.oms_day())
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        position = store.last_position()
        orders = Order.objects.filter(Q(trading_day=today) | Q(status__in=OPEN))
        fills = Fill.objects.filter(order__trading_day=today)
        positions = Position.objects.all()
        switches = KillSwitch.objects.filter(engaged=True)
        breaks = ReconciliationBreak.objects.filter(status="open")
        if accounts is not None:
            breaks = breaks.none()
            orders = orders.filter(account_id__in=accounts)
            fills = fills.filter(account_id__in=accounts)
            positions = positions.filter(account_id__in=accounts)
            switches = switches.filter(
                Q(scope__in=[Scope.FIRM, Scope.VENUE])
                | Q(scope=Scope.TRADER, target=username)
                | Q(scope=Scope.ACCOUNT, target__in=accounts)
            )
        return {
            "type": "snapshot",
            "position": position,
            "orders": list(OrderSerializer(orders.order_by("id"), many=True).data),
            "fills": list(FillSerializer(fills.order_by("id"), many=True).data),
            "positions": list(PositionSerializer(positions.order_by("account_id", "symbol"), many=True).data),
            "kill_switches": list(KillSwitchSerializer(switches, many=True).data),
            "breaks": list(BreakSerializer(breaks.order_by("id"), many=True).data),
        }
