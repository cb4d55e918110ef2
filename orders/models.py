"""Tables of the order core: the event log (the truth), reference data, and projections.

Projections (Order, Fill, Position) are read models: only the projection receivers write
them (orders/projections.py), from the events the engine appends, and
`manage.py rebuild_projections` can regenerate them from the log at any time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models

from orders.domain.values import OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce

QTY = {"max_digits": 30, "decimal_places": 8}
PX = {"max_digits": 30, "decimal_places": 8}
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
        permissions = [("view_all_accounts", "Can see every account's orders, fills, positions and events")]

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
    # Risk controls; changed only through the engine (an audited InstrumentRiskChanged event).
    # None: the asset class's default (settings.OMS_RISK_ASSET_CLASSES).
    price_band_pct = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    max_reference_age_s = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    restricted = models.BooleanField(default=False, help_text="Restricted: every new order is refused.")

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
    actor = models.TextField()  # user:<name>, fix:<CompID>, venue:<name> or system
    command_id = models.TextField()

    class Meta:
        db_table = "events"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["stream_type", "stream_id", "stream_version"], name="events_stream_version_unique"
            )
        ]
        # Reading a stream uses the unique constraint's index. Every extra index costs the
        # engine's commit path, so the log carries just one more: the account, for audit reads.
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
        db_index=False,  # covered by an index that starts with the account
        related_name="orders",
    )
    # current 11 ClOrdID (a replace changes it). Clients send at most 64 characters; the OMS's own
    # for children and their requests add a few (`<parent>.<n>`, `~<n>`).
    cl_ord_id = models.CharField(max_length=100)
    symbol = models.CharField(max_length=32)
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
    pending_cl_ord_id = models.CharField(max_length=100, blank=True)
    pending_quantity = models.DecimalField(**QTY, null=True, blank=True)
    pending_limit_price = models.DecimalField(**PX, null=True, blank=True)
    reject_reason = models.CharField(max_length=64, blank=True)
    text = models.CharField(max_length=500, blank=True)
    anomalies = models.IntegerField(default=0)
    venue = models.CharField(max_length=32, blank=True)  # where it is routed ("" before routing existed)
    parent_id = models.BigIntegerField(null=True, blank=True, db_index=True)  # a child order's parent
    strategy = models.CharField(max_length=8, blank=True, choices=choices(Strategy))  # a parent's routing
    venue_order_id = models.CharField(max_length=64, blank=True)  # 37 OrderID at the venue ("" until it says)
    version = models.IntegerField()
    trading_day = models.DateField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    created_at_ns = models.BigIntegerField()
    updated_at_ns = models.BigIntegerField()

    class Meta:
        ordering = ["-id"]
        # Few indexes: each one is paid on the engine's commit path. The blotter's and the
        # API's reads filter by account first, then day and ClOrdID, or by status. An account's
        # page (newest first, 50 at a time) reads (account, id) backwards: 50 index entries
        # whatever the account's or the table's size. Without it the planner had to choose
        # between every order of the account sorted, and the whole table walked newest first
        # until 50 of the account's turned up (35-120 ms a page in the bench, behind 84,000 others').
        indexes = [
            models.Index(fields=["account", "trading_day", "cl_ord_id"], name="order_account_day_clordid"),
            models.Index(fields=["account", "id"], name="order_account_id"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.account_id} {self.cl_ord_id}"


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
        db_index=False,  # covered by an index that starts with the account
        related_name="fills",
    )
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=16, choices=choices(Side))
    exec_id = models.TextField()  # 17 ExecID: the venue chooses its length
    last_qty = models.DecimalField(**QTY)  # 32 LastQty
    last_px = models.DecimalField(**PX)  # 31 LastPx (as corrected, if it was)
    executed_at = models.DateTimeField()
    # "" standing; "busted" (150=H: it never happened, positions leave it out); "corrected" (150=G:
    # last_qty and last_px are the corrected ones). The log keeps what it was.
    amendment = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.exec_id} {self.side} {self.last_qty} {self.symbol} @ {self.last_px}"


class PositionAdjustment(models.Model):
    """Projection: a position adjustment (a reconciliation break accepted at the venue's figure;
    never a fill). `id` is the position of its PositionAdjusted event in the log; who made it is
    that event's actor."""

    id = models.BigIntegerField(primary_key=True)
    break_id = models.BigIntegerField()
    venue = models.CharField(max_length=64)
    account = models.ForeignKey(
        Account, to_field="code", db_column="account_code", on_delete=models.PROTECT, db_constraint=False,
        related_name="position_adjustments",
    )  # fmt: skip
    symbol = models.CharField(max_length=32)
    quantity = models.DecimalField(**QTY)  # signed: added to the net position
    price = models.DecimalField(**PX, null=True, blank=True)
    reason = models.TextField()
    actor = models.CharField(max_length=200)
    adjusted_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["venue", "account", "symbol"], name="adjustment_venue_account_sym")]

    def __str__(self) -> str:
        return f"{self.venue} {self.account_id} {self.symbol} {self.quantity:+}"


class Position(models.Model):
    """Projection: net position, average cost and realised P&L per account and symbol."""

    account = models.ForeignKey(
        Account,
        to_field="code",
        db_column="account_code",
        on_delete=models.PROTECT,
        db_constraint=False,
        db_index=False,  # covered by an index that starts with the account
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


class ClOrdIdClaim(models.Model):
    """Projection: every ClOrdID claimed, per account and trading day, and the order it names.

    The engine's in-memory map decides; this table's unique constraint stands behind it, so a
    bug there can never put two orders (or an order and another order's request) under one
    ClOrdID in the log: the commit fails instead."""

    account_code = models.CharField(max_length=32)
    trading_day = models.DateField()
    cl_ord_id = models.CharField(max_length=100)
    order_id = models.BigIntegerField()

    class Meta:
        db_table = "cl_ord_id_claims"
        constraints = [
            models.UniqueConstraint(fields=["account_code", "trading_day", "cl_ord_id"], name="cl_ord_id_claim_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account_code} {self.trading_day} {self.cl_ord_id} -> {self.order_id}"


class Checkpoint(models.Model):
    """How far a log tailer (a venue connector, the blotter feed...) has durably processed.

    Not a projection: it is the consumer's own state. Positions are gapless and assigned in
    commit order, so "everything up to here is done" is a single number."""

    name = models.CharField(max_length=100, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


# The setting a transaction sets (SET LOCAL) to delete old snapshots: the snapshots_pruned_only trigger.
SNAPSHOT_PRUNE_SETTING = "oms.snapshot_prune"


class Snapshot(models.Model):
    """The engine's state folded up to a log position (orders/engine/snapshot_codec.py): where an
    engine start begins, so it replays only the log's tail. Append-only like the log, and, like a
    projection, never the truth: a snapshot that fails its checksum or cannot be read is skipped,
    and the log alone can always rebuild the state. Never changed; old ones are deleted whole by
    retention alone (snapshot_prune), never the newest."""

    position = models.BigIntegerField(help_text="The last log position folded into it")
    schema_version = models.SmallIntegerField(help_text="Version of the snapshot document (upcast on reading)")
    compression = models.CharField(max_length=16)
    checksum = models.CharField(max_length=64, help_text="sha256 of the stored payload")
    payload = models.BinaryField()
    size_bytes = models.BigIntegerField(help_text="Stored (compressed) payload size")
    orders = models.IntegerField(help_text="Orders in the state")
    tail_events = models.BigIntegerField(help_text="Events folded onto the snapshot it started from")
    based_on = models.BigIntegerField(null=True, blank=True, help_text="Position of that snapshot; empty: the log")
    took_ms = models.IntegerField(help_text="Time to read, fold, encode and store it")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "snapshots"
        ordering = ["-position", "-id"]
        indexes = [models.Index(fields=["-position", "-id"], name="snapshot_newest")]
        triggers = [
            pgtrigger.Trigger(
                name="snapshots_append_only",
                operation=pgtrigger.Update,
                when=pgtrigger.Before,
                level=pgtrigger.Row,
                func="RAISE EXCEPTION 'snapshots are append-only: % on % is refused', TG_OP, TG_TABLE_NAME;",
            ),
            # Retention (orders/snapshots.py snapshot_prune): a snapshot is never changed, but an old
            # one may be deleted whole, and only by the prune, which says so in its transaction
            # (SET LOCAL oms.snapshot_prune = 'on'); the newest is never deleted, by anyone.
            pgtrigger.Trigger(
                name="snapshots_pruned_only",
                operation=pgtrigger.Delete,
                when=pgtrigger.Before,
                level=pgtrigger.Row,
                func=f"""
                IF current_setting('{SNAPSHOT_PRUNE_SETTING}', true) IS DISTINCT FROM 'on' THEN
                    RAISE EXCEPTION 'snapshots are append-only: % on % is refused (retention prunes them)',
                        TG_OP, TG_TABLE_NAME;
                END IF;
                IF OLD.id = (SELECT id FROM snapshots ORDER BY position DESC, id DESC LIMIT 1) THEN
                    RAISE EXCEPTION 'the newest snapshot (id %) is never deleted', OLD.id;
                END IF;
                RETURN OLD;
                """,
            ),
            pgtrigger.Trigger(
                name="snapshots_no_truncate",
                operation=pgtrigger.Truncate,
                when=pgtrigger.Before,
                level=pgtrigger.Statement,
                func="RAISE EXCEPTION 'snapshots are append-only: % on % is refused', TG_OP, TG_TABLE_NAME;",
            ),
        ]

    def __str__(self) -> str:
        return f"snapshot at #{self.position} (v{self.schema_version}, {self.orders} orders)"
