"""Projection receivers: orders, fills and positions (and the position adjustments that
reconciliation books) follow the log, batch by batch.

Connected to `events_appended`, so they run inside the transaction that appends the
events (live) or that rebuilds the projections (rebuild_projections). They fold the same
domain code as the engine; they touch only read-model tables.

They write with plain SQL rather than the ORM: this is the engine's commit path. Rows go
in with COPY (into the table, or into a temporary staging table followed by one
INSERT ... ON CONFLICT DO UPDATE), which costs a fraction of ORM bulk upserts or even of
pipelined INSERTs (bench/order_path.py). The Django models stay the readers' interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import psycopg
from django.db import IntegrityError, connection
from django.dispatch import receiver

from orders import calendars
from orders.domain import cl_ord_ids
from orders.domain import events as ev
from orders.domain.calendar import Zone, trading_day
from orders.domain.fold import apply
from orders.domain.positions import Position as PositionState
from orders.domain.positions import apply_adjustment, apply_fill
from orders.domain.state import OrderState, PendingRequest
from orders.domain.values import OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce
from orders.models import ClOrdIdClaim, Fill, Order, Position, PositionAdjustment, ns_to_datetime
from orders.store import ORDER_STREAM, StoredEvent, events_appended
from reconciliation.domain.events import RECONCILIATION_STREAM, PositionAdjusted

ORDER_TABLE = Order._meta.db_table
FILL_TABLE = Fill._meta.db_table
POSITION_TABLE = Position._meta.db_table
ADJUSTMENT_TABLE = PositionAdjustment._meta.db_table

ORDER_COLUMNS = (
    "id", "account_code", "cl_ord_id", "symbol", "side", "order_type", "time_in_force", "quantity",
    "limit_price", "status", "cum_qty", "leaves_qty", "avg_px", "notional", "acknowledged", "pending_kind",
    "pending_cl_ord_id", "pending_quantity", "pending_limit_price", "reject_reason", "text", "anomalies",
    "venue", "parent_id", "strategy", "version", "trading_day", "created_at", "updated_at", "created_at_ns",
    "updated_at_ns", "venue_order_id",
)  # fmt: skip
FILL_COLUMNS = (
    "id", "order_id", "account_code", "symbol", "side", "exec_id", "last_qty", "last_px", "executed_at", "amendment",
)  # fmt: skip
ADJUSTMENT_COLUMNS = (
    "id", "break_id", "venue", "account_code", "symbol", "quantity", "price", "reason", "actor", "adjusted_at",
)  # fmt: skip
POSITION_COLUMNS = ("account_code", "symbol", "quantity", "avg_cost", "realized_pnl", "bought", "sold", "updated_at")


def _upsert_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    placeholders = ", ".join(["%s"] * len(columns))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


SMALL_BATCH = 32
UPSERT_POSITION = _upsert_sql(POSITION_TABLE, POSITION_COLUMNS, ("account_code", "symbol"))


def _copy_rows(cursor: psycopg.Cursor, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    if len(rows) <= SMALL_BATCH:  # one pipelined round trip where COPY takes three
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                           rows)  # fmt: skip
        return
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_upsert(cursor: psycopg.Cursor, table: str, columns: Sequence[str], key: Sequence[str], rows: list) -> None:
    """Upsert many rows in three statements whatever their number: COPY into a staging table
    (temporary, per session), one INSERT ... SELECT ... ON CONFLICT DO UPDATE, and emptying it.
    A few rows (the engine's batches when it is not loaded) go as one pipelined executemany:
    the staging table's TRUNCATE alone costs more than that."""
    if len(rows) <= SMALL_BATCH:
        cursor.executemany(_upsert_sql(table, columns, key), rows)
        return
    stage = f"stage_{table}"
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
    _copy_rows(cursor, stage, columns, rows)
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    cursor.execute(
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )
    cursor.execute(f"TRUNCATE {stage}")  # a rebuild upserts many batches in one transaction


def _cursor() -> psycopg.Cursor:
    """A server-side-binding cursor on Django's connection: inside the caller's transaction."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


@receiver(events_appended, dispatch_uid="orders.project_orders_fills_positions")
def project_orders_fills_positions(sender: object, events: list[StoredEvent], **kwargs: object) -> None:
    order_events = [e for e in events if e.stream_type == ORDER_STREAM]
    adjustments = [adjustment_row(e) for e in events
                   if e.stream_type == RECONCILIATION_STREAM and isinstance(e.event, PositionAdjusted)]  # fmt: skip
    if not order_events:
        if adjustments:
            with _cursor() as cursor:
                _copy_rows(cursor, ADJUSTMENT_TABLE, ADJUSTMENT_COLUMNS, adjustments)
                _project_positions(cursor, _movements([], adjustments))
        return
    touched = sorted({e.stream_id for e in order_events})
    continuing = sorted(set(touched) - {e.stream_id for e in order_events if e.stream_version == 1})
    folded_by_engine = all(e.state_after is not None for e in order_events)
    with _cursor() as cursor:
        states = {} if folded_by_engine else _load_orders(cursor, continuing)
        fills: list[tuple] = []
        amendments: list[tuple[OrderState, ev.FillBusted | ev.FillCorrected]] = []
        for stored in order_events:
            event = stored.event
            state = stored.state_after if folded_by_engine else apply(states.get(stored.stream_id), event)
            assert state is not None
            states[stored.stream_id] = state
            if state.is_parent:
                continue  # a parent's fills are its children's, rolled up: booked once, on the children
            if isinstance(event, ev.FILL_EVENTS):
                fills.append(fill_row(stored.position, state, event))
            elif isinstance(event, ev.FillBusted | ev.FillCorrected):
                amendments.append((state, event))
        zone = calendars.oms_day()
        rows = [order_row(states[i], zone) for i in touched]
        if not continuing:
            _copy_rows(cursor, ORDER_TABLE, ORDER_COLUMNS, rows)  # all new: plain COPY, the fast path
        else:
            _copy_upsert(cursor, ORDER_TABLE, ORDER_COLUMNS, ("id",), rows)
        _claim_cl_ord_ids(cursor, order_events, zone)
        if fills:
            _copy_rows(cursor, FILL_TABLE, FILL_COLUMNS, fills)
        if adjustments:
            _copy_rows(cursor, ADJUSTMENT_TABLE, ADJUSTMENT_COLUMNS, adjustments)
        amended = _amend_fills(cursor, amendments) if amendments else set()
        if fills or adjustments:
            moves = _movements(fills, adjustments)
            _project_positions(cursor, [m for m in moves if (m[1], m[2]) not in amended])


CLAIM_TABLE = ClOrdIdClaim._meta.db_table
CLAIM_COLUMNS = ("account_code", "trading_day", "cl_ord_id", "order_id")
# A claim repeated by the same order (a request and its refusal) changes nothing; one by another
# order sets order_id to NULL, which the column refuses: the commit fails, as it must.
CLAIM_UPSERT = (
    f"ON CONFLICT (account_code, trading_day, cl_ord_id) DO UPDATE SET order_id = "
    f"CASE WHEN {CLAIM_TABLE}.order_id = EXCLUDED.order_id THEN EXCLUDED.order_id END"
)


def _claim_cl_ord_ids(cursor: psycopg.Cursor, events: list[StoredEvent], zone: Zone) -> None:
    claims: dict[tuple[str, date, str], int] = {}
    for stored in events:
        event = stored.event
        cl_ord_id = cl_ord_ids.introduced(event)
        if cl_ord_id is None:
            continue
        key = (stored.account, trading_day(event.at_ns, zone), cl_ord_id)
        if claims.setdefault(key, event.order_id) != event.order_id:
            raise IntegrityError(f"ClOrdID {cl_ord_id} claimed by orders {claims[key]} and {event.order_id}")
    if not claims:
        return
    rows = [(*key, order_id) for key, order_id in claims.items()]
    names = ", ".join(CLAIM_COLUMNS)
    if len(rows) <= SMALL_BATCH:
        cursor.executemany(f"INSERT INTO {CLAIM_TABLE} ({names}) VALUES (%s, %s, %s, %s) {CLAIM_UPSERT}", rows)
        return
    stage = f"stage_{CLAIM_TABLE}"
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (account_code text, trading_day date, cl_ord_id text, "
                   "order_id bigint) ON COMMIT DELETE ROWS")  # fmt: skip
    _copy_rows(cursor, stage, CLAIM_COLUMNS, rows)
    cursor.execute(f"INSERT INTO {CLAIM_TABLE} ({names}) SELECT {names} FROM {stage} {CLAIM_UPSERT}")
    cursor.execute(f"TRUNCATE {stage}")


def _amend_fills(cursor: psycopg.Cursor, amendments: list) -> set[tuple[str, str]]:
    """Busts and corrections (rare): mark the fill row, then fold the position again from every
    fill that stands, in log order. Undoing one fill from an average cost is not exact; a fold
    of the standing fills is, and is what a rebuild computes too."""
    for state, event in amendments:
        if isinstance(event, ev.FillBusted):
            cursor.execute(f"UPDATE {FILL_TABLE} SET amendment = 'busted' WHERE order_id = %s AND exec_id = %s",
                           [state.order_id, event.ref_exec_id])  # fmt: skip
        else:
            cursor.execute(
                f"UPDATE {FILL_TABLE} SET amendment = 'corrected', last_qty = %s, last_px = %s "
                "WHERE order_id = %s AND exec_id = %s",
                [event.last_qty, event.last_px, state.order_id, event.ref_exec_id],
            )
    keys = {(state.account, state.symbol) for state, _ in amendments}
    for account, symbol in sorted(keys):
        # Adjustments too, in their place in the log: they move the position as fills do.
        cursor.execute(
            f"SELECT id, side, last_qty, last_px, executed_at FROM {FILL_TABLE} "
            "WHERE account_code = %s AND symbol = %s AND amendment <> 'busted' "
            f"UNION ALL SELECT id, NULL, quantity, price, adjusted_at FROM {ADJUSTMENT_TABLE} "
            "WHERE account_code = %s AND symbol = %s ORDER BY 1",
            [account, symbol, account, symbol],
        )
        position, updated_at = PositionState(account, symbol), None
        for _, side, quantity, price, at in cursor.fetchall():
            position = _move(position, side, quantity, price)
            updated_at = at
        p = position
        cursor.execute(UPSERT_POSITION, (account, symbol, p.quantity, p.avg_cost, p.realized_pnl, p.bought, p.sold,
                                         updated_at or ns_to_datetime(0)))  # fmt: skip
    return keys


def _load_orders(cursor: psycopg.Cursor, continuing: list[int]) -> dict[int, OrderState]:
    """The states to fold onto: from the projection, for orders that began in an earlier batch."""
    if not continuing:
        return {}
    cursor.execute(f"SELECT {', '.join(ORDER_COLUMNS)} FROM {ORDER_TABLE} WHERE id = ANY(%s)", [continuing])
    return {row[0]: _state_from_row(row) for row in cursor.fetchall()}


def order_row(state: OrderState, zone: Zone) -> tuple:
    # Enum values read as `_value_`, the member's stored value: `.value` is a Python-level property,
    # and a rebuild writes a row per order (a rebuild spent more time in it than in COPY).
    pending = state.pending
    day: date = trading_day(state.created_at_ns, zone)
    return (
        state.order_id, state.account, state.cl_ord_id, state.symbol, state.side._value_, state.order_type._value_,
        state.time_in_force._value_, state.quantity, state.limit_price, state.status._value_, state.cum_qty,
        state.leaves_qty, state.avg_px, state.notional, state.acknowledged,
        pending.kind._value_ if pending else "", pending.cl_ord_id if pending else "",
        pending.quantity if pending else None, pending.limit_price if pending else None,
        state.reject_reason or "", state.text[:500], state.anomalies, state.venue or "", state.parent_id,
        state.strategy._value_ if state.strategy else "", state.version, day,
        ns_to_datetime(state.created_at_ns), ns_to_datetime(state.updated_at_ns),
        state.created_at_ns, state.updated_at_ns, state.venue_order_id or "",
    )  # fmt: skip


def order_reply(state: OrderState, zone: str) -> dict:
    """The order's projection row as a JSON-ready dict (column -> value; decimals as strings), as the
    engine puts it in a sender's reply: the row this commit wrote, without reading it back."""
    row = order_row(state, zone)
    return {c: str(v) if isinstance(v, Decimal) else v for c, v in zip(ORDER_COLUMNS, row, strict=True)}


def _state_from_row(row: tuple) -> OrderState:
    """The inverse of `order_row`. ExecIDs are not kept in the projection: events are
    deduplicated before they are appended, so the projection never needs them."""
    r = dict(zip(ORDER_COLUMNS, row))
    pending = None
    if r["pending_kind"]:
        pending = PendingRequest(
            RequestKind(r["pending_kind"]), r["pending_cl_ord_id"], r["pending_quantity"], r["pending_limit_price"]
        )
    return OrderState(
        order_id=r["id"],
        account=r["account_code"],
        cl_ord_id=r["cl_ord_id"],
        symbol=r["symbol"],
        side=Side(r["side"]),
        order_type=OrderType(r["order_type"]),
        time_in_force=TimeInForce(r["time_in_force"]),
        quantity=r["quantity"],
        limit_price=r["limit_price"],
        status=OrdStatus(r["status"]),
        created_at_ns=r["created_at_ns"],
        updated_at_ns=r["updated_at_ns"],
        version=r["version"],
        cum_qty=r["cum_qty"],
        notional=r["notional"],
        acknowledged=r["acknowledged"],
        pending=pending,
        reject_reason=r["reject_reason"] or None,
        text=r["text"],
        anomalies=r["anomalies"],
        venue=r["venue"] or None,
        parent_id=r["parent_id"],
        strategy=Strategy(r["strategy"]) if r["strategy"] else None,
        venue_order_id=r["venue_order_id"] or None,
    )


def fill_row(position: int, state: OrderState, event: ev.OrderPartiallyFilled | ev.OrderFilled) -> tuple:
    return (
        position, state.order_id, state.account, state.symbol, state.side._value_, event.exec_id,
        event.last_qty, event.last_px, ns_to_datetime(event.at_ns), "",
    )  # fmt: skip


def adjustment_row(stored: StoredEvent) -> tuple:
    event = stored.event
    assert isinstance(event, PositionAdjusted)
    return (
        stored.position, event.stream_id, event.venue, event.account, event.symbol, event.quantity, event.price,
        event.reason, stored.actor, ns_to_datetime(event.at_ns),
    )  # fmt: skip


# What moves a position, in log order: (log position, account, symbol, side, quantity, price, at).
# A fill has its side; an adjustment none (its quantity is signed).
Movement = tuple


def _movements(fills: list[tuple], adjustments: list[tuple]) -> list[Movement]:
    moves = [(f[0], f[2], f[3], f[4], f[6], f[7], f[8]) for f in fills]
    moves += [(a[0], a[3], a[4], None, a[5], a[6], a[9]) for a in adjustments]
    return sorted(moves, key=lambda m: m[0])


def _move(position: PositionState, side: str | None, quantity, price) -> PositionState:
    if side is None:
        return apply_adjustment(position, Decimal(quantity), None if price is None else Decimal(price))
    return apply_fill(position, Side(side), Decimal(quantity), Decimal(price))


def _project_positions(cursor: psycopg.Cursor, moves: list[Movement]) -> None:
    """Fold the batch's fills and adjustments, in log order, onto the stored positions they touch."""
    if not moves:
        return
    keys = sorted({(m[1], m[2]) for m in moves})
    cursor.execute(
        f"SELECT account_code, symbol, quantity, avg_cost, realized_pnl, bought, sold FROM {POSITION_TABLE} "
        "WHERE (account_code, symbol) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        [[k[0] for k in keys], [k[1] for k in keys]],
    )
    positions = {(row[0], row[1]): PositionState(*row) for row in cursor.fetchall()}
    updated_at = {}
    for _, account, symbol, side, quantity, price, at in moves:
        key = (account, symbol)
        positions[key] = _move(positions.get(key) or PositionState(account, symbol), side, quantity, price)
        updated_at[key] = at
    cursor.executemany(
        UPSERT_POSITION,
        [
            (p.account, p.symbol, p.quantity, p.avg_cost, p.realized_pnl, p.bought, p.sold, updated_at[key])
            for key, p in ((k, positions[k]) for k in keys)
        ],
    )
