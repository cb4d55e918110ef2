"""Admin: reference data is edited here; the log and its projections are read-only audit views."""

from __future__ import annotations

import json

import redis
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from orders import references
from orders.engine import snapshot_codec
from orders.models import (
    Account,
    Event,
    Fill,
    Instrument,
    Order,
    Position,
    PositionAdjustment,
    Snapshot,
    ns_to_datetime,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody edits history, superusers included: the database would refuse it anyway."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["users"]


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["symbol", "description", "tick_size", "lot_size", "currency", "asset_class", "active",
                    "reference"]  # fmt: skip
    list_filter = ["asset_class", "currency", "active"]
    search_fields = ["symbol", "description"]

    @admin.display(description="reference (engine)")
    def reference(self, instrument: Instrument) -> str:
        try:
            quote = references.read_one(instrument.symbol)
        except redis.RedisError as exc:
            return f"unknown ({exc})"
        if not quote or quote.get("reference") is None:
            return "none"
        return f"{quote['reference']} ({quote['source']}, {quote['age_s']:.1f}s old)"


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["position", "event_type", "stream", "account", "actor", "occurred", "recorded"]
    list_filter = ["event_type", "stream_type", "account"]
    search_fields = ["=stream_id", "=command_id", "actor", "=account"]
    ordering = ["-position"]
    show_full_result_count = False  # counting a large log on every page is slow
    readonly_fields = ["position", "stream_type", "stream_id", "stream_version", "event_type", "schema_version",
                       "pretty_payload", "account", "occurred", "recorded", "actor", "command_id"]  # fmt: skip
    exclude = ["payload", "occurred_at_ns", "recorded_at_ns"]

    @admin.display(description="stream", ordering="stream_id")
    def stream(self, event: Event) -> str:
        return f"{event.stream_type} {event.stream_id} v{event.stream_version}"

    @admin.display(description="occurred (UTC)", ordering="occurred_at_ns")
    def occurred(self, event: Event) -> str:
        return ns_to_datetime(event.occurred_at_ns).isoformat(timespec="microseconds")

    @admin.display(description="recorded (UTC)", ordering="recorded_at_ns")
    def recorded(self, event: Event) -> str:
        return ns_to_datetime(event.recorded_at_ns).isoformat(timespec="microseconds")

    @admin.display(description="payload")
    def pretty_payload(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, sort_keys=True))


class HasAnomalies(admin.SimpleListFilter):
    """Orders with venue reports the OMS could not explain: what compliance looks at first."""

    title = "anomalies"
    parameter_name = "anomalous"

    def lookups(self, request, model_admin):
        return [("yes", "with anomalies"), ("no", "without")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(anomalies__gt=0)
        if self.value() == "no":
            return queryset.filter(anomalies=0)
        return queryset


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "cl_ord_id", "symbol", "side", "quantity", "limit_price", "status", "cum_qty",
                    "avg_px", "venue", "parent_id", "strategy", "anomalies", "created_at", "history"]  # fmt: skip
    list_filter = ["status", "side", "order_type", "time_in_force", "account", "venue", "strategy", "trading_day",
                   HasAnomalies]  # fmt: skip
    search_fields = ["=id", "cl_ord_id", "=symbol", "=parent_id"]
    date_hierarchy = "created_at"

    @admin.display(description="events")
    def history(self, order: Order) -> str:
        url = reverse("admin:orders_event_changelist") + f"?stream_type=order&q={order.id}"
        # The client FIX gateway's message log about the order (empty for orders not from FIX).
        fix_url = reverse("admin:gateway_fixmessage_changelist") + f"?order={order.id}"
        return format_html('<a href="{}">history</a> · <a href="{}">FIX</a>', url, fix_url)


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ["id", "order_id", "account", "symbol", "side", "last_qty", "last_px", "exec_id", "executed_at"]
    list_filter = ["account", "side"]
    search_fields = ["=order__id", "=exec_id", "=symbol"]


@admin.register(PositionAdjustment)
class PositionAdjustmentAdmin(ReadOnlyAdmin):
    """Adjustments reconciliation booked when a person accepted a venue's figure (never fills)."""

    list_display = ["id", "break_id", "venue", "account", "symbol", "quantity", "price", "actor", "reason",
                    "adjusted_at"]  # fmt: skip
    list_filter = ["venue", "account"]
    search_fields = ["=symbol", "=break_id"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["account", "symbol", "quantity", "avg_cost", "realized_pnl", "bought", "sold", "updated_at"]
    list_filter = ["account"]
    search_fields = ["=symbol"]


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    """The engine's snapshots, newest first: where the next engine start begins (docs/operations.md)."""

    list_display = ["id", "position", "schema_version", "orders", "size", "tail_events", "based_on", "took",
                    "created_at"]  # fmt: skip
    readonly_fields = ["id", "position", "schema_version", "compression", "checksum", "payload_check", "size",
                       "orders", "tail_events", "based_on", "took", "created_at"]  # fmt: skip
    exclude = ["payload", "size_bytes", "took_ms"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("payload")  # megabytes each: read only on the detail page

    @admin.display(description="size", ordering="size_bytes")
    def size(self, snapshot: Snapshot) -> str:
        return f"{snapshot.size_bytes / 1e6:.2f} MB"

    @admin.display(description="took", ordering="took_ms")
    def took(self, snapshot: Snapshot) -> str:
        return f"{snapshot.took_ms / 1000:.2f} s"

    @admin.display(description="payload")
    def payload_check(self, snapshot: Snapshot) -> str:
        if snapshot.schema_version > snapshot_codec.SCHEMA_VERSION:
            return f"schema version {snapshot.schema_version} is newer than this code reads"
        if snapshot_codec.checksum(bytes(snapshot.payload)) != snapshot.checksum:
            return "CORRUPT: the payload fails its checksum; an engine start skips this snapshot"
        return "checksum ok"
