"""Tables of the order core: the event log (the truth), reference data, and projections.

Projections (Order, Fill, Position) are read models: only the projection receivers write
them (orders/projections.py), from the events the engine appends, and
`manage.py rebuild_projections` can regenerate them from the log at any time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models

from orders.domain.state import OrderState, PendingRequest
from orders.domain.values import OrderType, OrdStatus, RequestKind, Side, TimeInForce

QTY = {"max_digits": 24, "decimal_places": 8}
PX = {"max_digits": 24, "decimal_places": 8}
# Sums of quantity x price: both have at most 8 decimals, so 16 keep them exact (no drift
# between a live projection and one rebuilt in different batches).
MONEY = {"max_digits": 40, "decimal_places": 16}


def ns_to_datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1_000_000_000, tz=UTC)


def choices(enum_type) -> list[tuple[str, str]]:
    return [(member.value, member.value.replace("_", " ")) for member in enum_type]


class Account(models.Model):
    """A trading account. `code` is what clients send (REST `account`, FIX 1 Account)."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="accounts", blank=True, help_text="Users granted this account."
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Instrument(models.Model):
    symbol = models.CharField(max_length=32, unique=True)  # 55 Symbol
    description = models.CharField(max_length=200, blank=True)
    tick_size = models.DecimalField(**PX)
    lot_size = models.DecimalField(**QTY)
    currency = models.CharField(max_length=3, default="USD")
    asset_class = models.CharField(max_length=32, default="equity")
    active = models.BooleanField(default=True)
    reference_price = models.DecimalField(**PX, null=True, blank=True)
    reference_price_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class Event(models.Model):
    """The append-only event log. PostgreSQL itself refuses UPDATE, DELETE and TRUNCATE.

    `position` is assigned by the engine, the only writer, in commit order and without gaps;
    (stream_type, stream_id, stream_version) is unique, so a stream never forks.
    """

    position = models.BigIntegerField(primary_key=True)
    stream_type = models.CharField(max_length=32)
    stream_id = models.BigIntegerField()
    stream_version = models.IntegerField()
    event_type = models.CharField(max_length=64)
    schema_version = models.SmallIntegerField()
    payload = models.JSONField()
    account = models.CharField(max_length=32, blank=True, db_index=True)
    occurred_at_ns = models.BigIntegerField(help_text="UTC ns: when the causing command was received")
    recorded_at_ns = models.BigIntegerField(help_text="UTC ns: when the engine appended it")
    actor = models.CharField(max_length=100)
    command_id = models.CharField(max_length=64)

    class Meta:
        db_table = "events"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["stream_type", "stream_id", "stream_version"], name="events_stream_version_unique"
            )
        ]
        indexes = [
            models.Index(fields=["stream_type", "stream_id", "stream_version"], name="events_stream_idx"),
            models.Index(fields=["event_type", "position"], name="events_type_idx"),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="events_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
                when=pgtrigger.Before,
                level=pgtrigger.Row,
                func="RAISE EXCEPTION 'the event log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME;",
            ),
            pgtrigger.Trigger(
                name="events_no_truncate",
                operation=pgtrigger.Truncate,
                when=pgtrigger.Before,
                level=pgtrigger.Statement,
                func="RAISE EXCEPTION 'the event log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME;",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.event_type} {self.stream_type}-{self.stream_id} v{self.stream_version}"

    @property
    def occurred_at(self) -> datetime:
        return ns_to_datetime(self.occurred_at_ns)

    @property
    def recorded_at(self) -> datetime:
        return ns_to_datetime(self.recorded_at_ns)


class Order(models.Model):
    """Projection: an order's current state, the fold of its events."""

    id = models.BigIntegerField(primary_key=True)  # 37 OrderID, assigned by the engine
    account = models.ForeignKey(
        Account,
        to_field="code",
        db_column="account_code",
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="orders",
    )
    cl_ord_id = models.CharField(max_length=64, db_index=True)  # current 11 ClOrdID (a replace changes it)
    symbol = models.CharField(max_length=32, db_index=True)
    side = models.CharField(max_length=16, choices=choices(Side))
    order_type = models.CharField(max_length=16, choices=choices(OrderType))
    time_in_force = models.CharField(max_length=8, choices=choices(TimeInForce))
    quantity = models.DecimalField(**QTY)
    limit_price = models.DecimalField(**PX, null=True, blank=True)
    status = models.CharField(max_length=20, choices=choices(OrdStatus), db_index=True)
    cum_qty = models.DecimalField(**QTY, default=Decimal(0))
    leaves_qty = models.DecimalField(**QTY, default=Decimal(0))
    avg_px = models.DecimalField(**PX, default=Decimal(0))
    notional = models.DecimalField(**MONEY, default=Decimal(0))
    acknowledged = models.BooleanField(default=False)
    pending_kind = models.CharField(max_length=8, blank=True, choices=choices(RequestKind))
    pending_cl_ord_id = models.CharField(max_length=64, blank=True)
    pending_quantity = models.DecimalField(**QTY, null=True, blank=True)
    pending_limit_price = models.DecimalField(**PX, null=True, blank=True)
    reject_reason = models.CharField(max_length=64, blank=True)
    text = models.CharField(max_length=500, blank=True)
    anomalies = models.IntegerField(default=0)
    version = models.IntegerField()
    trading_day = models.DateField()
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    created_at_ns = models.BigIntegerField()
    updated_at_ns = models.BigIntegerField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "trading_day", "cl_ord_id"], name="order_account_day_clordid")]

    def __str__(self) -> str:
        return f"{self.id} {self.account_id} {self.cl_ord_id}"

    def to_domain(self) -> OrderState:
        """The domain state to fold further events onto. ExecIDs are not kept here: events are
        deduplicated before they are appended, so the projection never needs them."""
        pending = None
        if self.pending_kind:
            pending = PendingRequest(
                RequestKind(self.pending_kind), self.pending_cl_ord_id, self.pending_quantity, self.pending_limit_price
            )
        return OrderState(
            order_id=self.id,
            account=self.account_id,
            cl_ord_id=self.cl_ord_id,
            symbol=self.symbol,
            side=Side(self.side),
            order_type=OrderType(self.order_type),
            time_in_force=TimeInForce(self.time_in_force),
            quantity=self.quantity,
            limit_price=self.limit_price,
            status=OrdStatus(self.status),
            created_at_ns=self.created_at_ns,
            updated_at_ns=self.updated_at_ns,
            version=self.version,
            cum_qty=self.cum_qty,
            notional=self.notional,
            acknowledged=self.acknowledged,
            pending=pending,
            reject_reason=self.reject_reason or None,
            text=self.text,
            anomalies=self.anomalies,
        )

    @classmethod
    def from_domain(cls, state: OrderState, trading_day: date) -> Order:
        pending = state.pending
        return cls(
            id=state.order_id,
            account_id=state.account,
            cl_ord_id=state.cl_ord_id,
            symbol=state.symbol,
            side=state.side.value,
            order_type=state.order_type.value,
            time_in_force=state.time_in_force.value,
            quantity=state.quantity,
            limit_price=state.limit_price,
            status=state.status.value,
            cum_qty=state.cum_qty,
            leaves_qty=state.leaves_qty,
            avg_px=state.avg_px,
            notional=state.notional,
            acknowledged=state.acknowledged,
            pending_kind=pending.kind.value if pending else "",
            pending_cl_ord_id=pending.cl_ord_id if pending else "",
            pending_quantity=pending.quantity if pending else None,
            pending_limit_price=pending.limit_price if pending else None,
            reject_reason=state.reject_reason or "",
            text=state.text[:500],
            anomalies=state.anomalies,
            version=state.version,
            trading_day=trading_day,
            created_at=ns_to_datetime(state.created_at_ns),
            updated_at=ns_to_datetime(state.updated_at_ns),
            created_at_ns=state.created_at_ns,
            updated_at_ns=state.updated_at_ns,
        )


class Fill(models.Model):
    """Projection: one execution (a fill event). `id` is the position of that event in the log."""

    id = models.BigIntegerField(primary_key=True)
    order = models.ForeignKey(Order, on_delete=models.DO_NOTHING, db_constraint=False, related_name="fills")
    account = models.ForeignKey(
        Account,
        to_field="code",
        db_column="account_code",
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="fills",
    )
    symbol = models.CharField(max_length=32, db_index=True)
    side = models.CharField(max_length=16, choices=choices(Side))
    exec_id = models.CharField(max_length=64)  # 17 ExecID
    last_qty = models.DecimalField(**QTY)  # 32 LastQty
    last_px = models.DecimalField(**PX)  # 31 LastPx
    executed_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.exec_id} {self.side} {self.last_qty} {self.symbol} @ {self.last_px}"


class Position(models.Model):
    """Projection: net position, average cost and realised P&L per account and symbol."""

    account = models.ForeignKey(
        Account,
        to_field="code",
        db_column="account_code",
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="positions",
    )
    symbol = models.CharField(max_length=32)
    quantity = models.DecimalField(**QTY, default=Decimal(0))
    avg_cost = models.DecimalField(**PX, default=Decimal(0))
    realized_pnl = models.DecimalField(**MONEY, default=Decimal(0))
    bought = models.DecimalField(**QTY, default=Decimal(0))
    sold = models.DecimalField(**QTY, default=Decimal(0))
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "symbol"]
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="position_account_symbol_unique")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.symbol} {self.quantity}"
