"""REST shapes. Quantities and prices are decimal strings; statuses are FIX OrdStatus names."""

from __future__ import annotations

import copy
from datetime import UTC
from decimal import Decimal

from django.db import models
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from orders import entry, services
from orders.domain.values import OrderType, OrdStatus, Side, Strategy, TimeInForce
from orders.models import Account, Event, Fill, Instrument, Order, Position, ns_to_datetime
from risk.configuration import instrument_risk

DECIMAL = {"max_digits": 24, "decimal_places": 8}
SHOWN_PX = {"max_digits": 30, "decimal_places": 8, "read_only": True}


class CompactDecimalField(serializers.DecimalField):
    """Decimals as plain strings without padding: "100", "190.5" rather than "100.00000000"."""

    def to_representation(self, value: Decimal | None) -> str | None:
        if value is None:
            return None
        text = format(Decimal(value), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: CompactDecimalField,
    }


# The rules are orders.entry's, shared with the FIX gateway; here a problem becomes a 400 on its field.


def _refuse(problem: entry.Problem | None) -> None:
    """A field's own problem: DRF files it under the field being validated."""
    if problem is not None:
        raise serializers.ValidationError(problem.text)


def _refuse_across(problem: entry.Problem | None) -> None:
    """A problem across fields, filed under the field it names."""
    if problem is not None:
        raise serializers.ValidationError({problem.field or "non_field_errors": [problem.text]})


def _unpadded(value: Decimal) -> Decimal:
    """Without the padding DRF's quantizing adds ("190.50000000" -> "190.5"), so events, FIX
    messages and texts carry the number as the client meant it."""
    compact = value.normalize()
    return compact.quantize(Decimal(1)) if compact.as_tuple().exponent > 0 else compact


_compact = CompactDecimalField(max_digits=40, decimal_places=16)


class DatabaseLookups:
    """What order entry asks about the world, read from the database each time: where no cached
    snapshot (orders.edge.Lookups, context["lookups"]) was given."""

    def __init__(self, user) -> None:
        self.user = user

    def symbol_known(self, symbol: str) -> bool:
        return services.instrument_exists(symbol)

    def venue_active(self, name: str) -> bool:
        return services.venue_active(name)

    def may_trade(self, code: str) -> bool:
        return services.account_granted(self.user, code)


def _lookups(serializer: serializers.Serializer):
    context = serializer.context
    lookups = context.get("lookups")
    if lookups is None:
        request = context.get("request")
        lookups = context["lookups"] = DatabaseLookups(request.user if request is not None else None)
    return lookups


def validate_cl_ord_id(value: str) -> str:
    _refuse(entry.cl_ord_id_problem(value))
    return value


class OrderSerializer(serializers.Serializer):
    """An order as the API shows it. Declared field by field rather than a ModelSerializer:
    building a ModelSerializer's fields from the model costs ~4 ms a request, on the order path."""

    id = serializers.IntegerField(read_only=True)
    account = serializers.CharField(source="account_id", read_only=True)
    cl_ord_id = serializers.CharField(read_only=True)
    symbol = serializers.CharField(read_only=True)
    side = serializers.ChoiceField(choices=[s.value for s in Side], read_only=True)
    quantity = CompactDecimalField(**SHOWN_PX)
    order_type = serializers.ChoiceField(choices=[t.value for t in OrderType], read_only=True)
    limit_price = CompactDecimalField(**SHOWN_PX, allow_null=True)
    time_in_force = serializers.ChoiceField(choices=[t.value for t in TimeInForce], read_only=True)
    venue = serializers.CharField(read_only=True, help_text="Where it is routed; empty for a parent order.")
    parent = serializers.IntegerField(source="parent_id", allow_null=True, read_only=True,
                                      help_text="A child order's parent.")  # fmt: skip
    strategy = serializers.CharField(read_only=True, help_text="A parent order's routing strategy; children are "
                                     "listed by GET /api/v1/orders/?parent=<id>.")  # fmt: skip
    status = serializers.ChoiceField(choices=[s.value for s in OrdStatus], read_only=True)
    cum_qty = CompactDecimalField(**SHOWN_PX)
    leaves_qty = CompactDecimalField(**SHOWN_PX)
    avg_px = CompactDecimalField(**SHOWN_PX)
    reject_reason = serializers.CharField(read_only=True)
    reject_text = serializers.SerializerMethodField(help_text="A rejection said for people: the limit and the figures.")
    text = serializers.CharField(read_only=True)
    pending = serializers.SerializerMethodField()
    anomalies = serializers.IntegerField(read_only=True)
    trading_day = serializers.DateField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    version = serializers.IntegerField(read_only=True)

    def get_reject_text(self, order: Order) -> str:
        return order.text if order.status == OrdStatus.REJECTED else ""

    def get_pending(self, order: Order) -> dict | None:
        if not order.pending_kind:
            return None
        return {
            "kind": order.pending_kind,
            "cl_ord_id": order.pending_cl_ord_id,
            "quantity": _compact.to_representation(order.pending_quantity),
            "limit_price": _compact.to_representation(order.pending_limit_price),
        }


# A page of orders, without DRF's field machinery: OrderSerializer's output exactly (a test holds the
# two equal over every order of the test database), built from plain rows (one query, no model
# instances). DRF spends ~0.4 ms an order walking fields; this is what makes a 50-row page cheap.
ORDER_ROW_FIELDS = (
    "id", "account_id", "cl_ord_id", "symbol", "side", "quantity", "order_type", "limit_price", "time_in_force",
    "venue", "parent_id", "strategy", "status", "cum_qty", "leaves_qty", "avg_px", "reject_reason", "text",
    "pending_kind", "pending_cl_ord_id", "pending_quantity", "pending_limit_price", "anomalies", "trading_day",
    "created_at", "updated_at", "version",
)  # fmt: skip
_REJECTED = OrdStatus.REJECTED.value


def _decimal(value: Decimal | None) -> str | None:
    return CompactDecimalField.to_representation(_compact, value)


def _datetime(value) -> str:
    """As DRF's DateTimeField shows it in UTC (TIME_ZONE): ISO 8601 with "Z"."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def order_rows(rows) -> list[dict]:
    """OrderSerializer(many=True).data of `rows`, tuples of ORDER_ROW_FIELDS."""
    shown = []
    for (id_, account, cl_ord_id, symbol, side, quantity, order_type, limit_price, time_in_force, venue, parent,
         strategy, status, cum_qty, leaves_qty, avg_px, reject_reason, text, pending_kind, pending_cl_ord_id,
         pending_quantity, pending_limit_price, anomalies, trading_day, created_at, updated_at, version,
         ) in rows:  # fmt: skip
        shown.append({
            "id": id_, "account": account, "cl_ord_id": cl_ord_id, "symbol": symbol, "side": side,
            "quantity": _decimal(quantity), "order_type": order_type, "limit_price": _decimal(limit_price),
            "time_in_force": time_in_force, "venue": venue, "parent": parent, "strategy": strategy,
            "status": status, "cum_qty": _decimal(cum_qty), "leaves_qty": _decimal(leaves_qty),
            "avg_px": _decimal(avg_px), "reject_reason": reject_reason,
            "reject_text": text if status == _REJECTED else "", "text": text,
            "pending": None if not pending_kind else {
                "kind": pending_kind, "cl_ord_id": pending_cl_ord_id, "quantity": _decimal(pending_quantity),
                "limit_price": _decimal(pending_limit_price),
            },
            "anomalies": anomalies, "trading_day": trading_day.isoformat(), "created_at": _datetime(created_at),
            "updated_at": _datetime(updated_at), "version": version,
        })  # fmt: skip
    return shown


def order_representation(order: Order) -> dict:
    """OrderSerializer(order).data, the fast way (order_rows)."""
    return order_rows([tuple(getattr(order, name) for name in ORDER_ROW_FIELDS)])[0]


class FieldsBuiltOnce:
    """A serializer whose declared fields are deep-copied once per class, and each instance takes a
    shallow copy of each: DRF deep-copies them for every instance so that one may change its own
    (none here does), and that copy was most of OrderCreateSerializer's validation (~0.4 ms an
    order). A copy is bound to its instance as DRF binds fields; the template is never bound or
    changed. A nested serializer's copy builds its own fields (it drops the ones its template
    may have cached), so they know their own parent, whose context they read."""

    _templates: dict[type, dict] = {}

    def get_fields(self) -> dict:
        template = self._templates.get(type(self))
        if template is None:
            template = self._templates[type(self)] = super().get_fields()  # type: ignore[misc]
        return {name: _fresh(field) for name, field in template.items()}


def _fresh(field: serializers.Field) -> serializers.Field:
    copied = copy.copy(field)
    copied.__dict__.pop("fields", None)
    return copied


class RoutingSerializer(FieldsBuiltOnce, serializers.Serializer):
    strategy = serializers.ChoiceField(
        choices=[s.value for s in Strategy],
        help_text="direct: one child at `venue`; split: across venues by displayed liquidity at or better than "
        "the limit, best price first; slices: `slices` equal children over the connected venues.",
    )
    venue = serializers.CharField(max_length=32, required=False, help_text="For direct: the venue.")
    slices = serializers.IntegerField(required=False, min_value=1, max_value=100, help_text="For slices.")
    venues = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, min_length=1, max_length=20,
        help_text="For split and slices: use only these venues (default: every connected venue).",
    )  # fmt: skip

    def validate_venue(self, value: str) -> str:
        _refuse(entry.venue_problem(value, _lookups(self).venue_active))
        return value

    def validate_venues(self, value: list[str]) -> list[str]:
        _refuse(entry.venues_problem(value, _lookups(self).venue_active))
        return value

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({k: "not a routing field (strategy, venue, venues, slices)"
                                                   for k in unknown})  # fmt: skip
        return super().to_internal_value(data)

    def validate(self, attrs: dict) -> dict:
        _refuse_across(entry.routing_problem(entry.Routing(**attrs)))
        return attrs


class OrderCreateSerializer(FieldsBuiltOnce, serializers.Serializer):
    account = serializers.CharField(max_length=32, help_text="The account's code; it must be granted to you.")
    cl_ord_id = serializers.CharField(
        max_length=64,
        trim_whitespace=False,  # "ab\n" is not "ab": refuse it rather than match another order
        validators=[validate_cl_ord_id],
        help_text="Your order id, unique per account per trading day (FIX 11).",
    )
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=[s.value for s in Side])
    quantity = serializers.DecimalField(**DECIMAL)
    order_type = serializers.ChoiceField(choices=[t.value for t in OrderType])
    limit_price = serializers.DecimalField(**DECIMAL, required=False, allow_null=True)
    time_in_force = serializers.ChoiceField(choices=[t.value for t in TimeInForce], default="day")
    venue = serializers.CharField(
        max_length=32, required=False, allow_null=True, help_text="Route to this venue; omitted or null: the default."
    )
    routing = RoutingSerializer(
        required=False, help_text="Make this a parent order, placed as child orders by the smart order router."
    )

    def validate_venue(self, value: str | None) -> str | None:
        _refuse(entry.venue_problem(value, _lookups(self).venue_active))
        return value

    def validate_account(self, value: str) -> str:
        _refuse(entry.account_problem(value, _lookups(self).may_trade))
        return value

    def validate_symbol(self, value: str) -> str:
        _refuse(entry.symbol_problem(value, _lookups(self).symbol_known))
        return value

    def validate_quantity(self, value: Decimal) -> Decimal:
        _refuse(entry.quantity_problem(value))
        return _unpadded(value)

    def validate_limit_price(self, value: Decimal | None) -> Decimal | None:
        _refuse(entry.limit_price_problem(value))
        return None if value is None else _unpadded(value)

    def validate(self, attrs: dict) -> dict:
        _refuse_across(
            entry.order_problem(
                order_type=attrs["order_type"],
                limit_price=attrs.get("limit_price"),
                venue=attrs.get("venue"),
                routed=bool(attrs.get("routing")),
            )
        )
        return attrs


class CancelSerializer(serializers.Serializer):
    cl_ord_id = serializers.CharField(
        max_length=64,
        required=False,
        trim_whitespace=False,
        validators=[validate_cl_ord_id],
        help_text="ClOrdID of this cancel request; generated when omitted.",
    )


class ReplaceSerializer(serializers.Serializer):
    quantity = serializers.DecimalField(**DECIMAL, required=False, help_text="New total quantity, fills included.")
    limit_price = serializers.DecimalField(**DECIMAL, required=False)
    cl_ord_id = serializers.CharField(
        max_length=64,
        required=False,
        trim_whitespace=False,
        validators=[validate_cl_ord_id],
        help_text="ClOrdID of the replacement; generated when omitted.",
    )

    def validate_quantity(self, value: Decimal) -> Decimal:
        _refuse(entry.quantity_problem(value))
        return _unpadded(value)

    def validate_limit_price(self, value: Decimal) -> Decimal:
        _refuse(entry.limit_price_problem(value))
        return _unpadded(value)

    def validate(self, attrs: dict) -> dict:
        _refuse_across(entry.replace_problem(quantity=attrs.get("quantity"), limit_price=attrs.get("limit_price")))
        return attrs


class EventSerializer(ModelSerializer):
    occurred_at = serializers.SerializerMethodField()
    recorded_at = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "position",
            "stream_type",
            "stream_id",
            "stream_version",
            "event_type",
            "schema_version",
            "payload",
            "account",
            "occurred_at",
            "occurred_at_ns",
            "recorded_at",
            "recorded_at_ns",
            "actor",
            "command_id",
        ]
        read_only_fields = fields

    def get_occurred_at(self, event: Event) -> str:
        return ns_to_datetime(event.occurred_at_ns).isoformat()

    def get_recorded_at(self, event: Event) -> str:
        return ns_to_datetime(event.recorded_at_ns).isoformat()


class FillSerializer(ModelSerializer):
    account = serializers.CharField(source="account_id")
    order = serializers.IntegerField(source="order_id")

    class Meta:
        model = Fill
        fields = ["id", "order", "account", "symbol", "side", "exec_id", "last_qty", "last_px", "executed_at"]
        read_only_fields = fields


class PositionSerializer(ModelSerializer):
    account = serializers.CharField(source="account_id")

    class Meta:
        model = Position
        fields = ["account", "symbol", "quantity", "avg_cost", "realized_pnl", "bought", "sold", "updated_at"]
        read_only_fields = fields


class InstrumentSerializer(ModelSerializer):
    """An instrument with the market as the engine holds it: the best bid and ask over the venues,
    the last trade, and the reference price the price band checks against, with its age. The view
    reads the engine's published references once per request (context["references"])."""

    bid = serializers.SerializerMethodField()
    ask = serializers.SerializerMethodField()
    last = serializers.SerializerMethodField()
    reference_price = serializers.SerializerMethodField()
    reference_source = serializers.SerializerMethodField()
    reference_price_at = serializers.SerializerMethodField()
    reference_age_s = serializers.SerializerMethodField()
    price_band_pct = serializers.SerializerMethodField(
        help_text="Effective: the instrument's own band, else its asset class's (percent from the reference)."
    )
    max_reference_age_s = serializers.SerializerMethodField(
        help_text="Effective: an older reference rejects orders (stale_reference)."
    )
    risk_overrides = serializers.SerializerMethodField(
        help_text="The instrument's own settings (null: the asset class default), as PATCH sets them."
    )

    def get_price_band_pct(self, instrument: Instrument) -> str:
        return _compact.to_representation(instrument_risk(instrument).price_band_pct)

    def get_max_reference_age_s(self, instrument: Instrument) -> str:
        return _compact.to_representation(instrument_risk(instrument).max_reference_age_s)

    @extend_schema_field(
        inline_serializer("InstrumentRiskOverrides", {
            "price_band_pct": serializers.CharField(allow_null=True),
            "max_reference_age_s": serializers.CharField(allow_null=True),
        })
    )  # fmt: skip
    def get_risk_overrides(self, instrument: Instrument) -> dict:
        return {
            "price_band_pct": _compact.to_representation(instrument.price_band_pct),
            "max_reference_age_s": _compact.to_representation(instrument.max_reference_age_s),
        }

    def _quote(self, instrument: Instrument) -> dict:
        return self.context.get("references", {}).get(instrument.symbol) or {}

    def get_bid(self, instrument: Instrument) -> str | None:
        return self._quote(instrument).get("bid")

    def get_ask(self, instrument: Instrument) -> str | None:
        return self._quote(instrument).get("ask")

    def get_last(self, instrument: Instrument) -> str | None:
        return self._quote(instrument).get("last")

    def get_reference_price(self, instrument: Instrument) -> str | None:
        return self._quote(instrument).get("reference")

    def get_reference_source(self, instrument: Instrument) -> str:
        return self._quote(instrument).get("source") or "none"

    def get_reference_price_at(self, instrument: Instrument) -> str | None:
        at_ns = self._quote(instrument).get("at_ns")
        return None if at_ns is None else ns_to_datetime(at_ns).isoformat()

    def get_reference_age_s(self, instrument: Instrument) -> float | None:
        return self._quote(instrument).get("age_s")

    class Meta:
        model = Instrument
        fields = [
            "symbol",
            "description",
            "tick_size",
            "lot_size",
            "currency",
            "asset_class",
            "active",
            "bid",
            "ask",
            "last",
            "reference_price",
            "reference_source",
            "reference_price_at",
            "reference_age_s",
            "price_band_pct",
            "max_reference_age_s",
            "restricted",
            "risk_overrides",
        ]
        read_only_fields = fields


class AccountSerializer(ModelSerializer):
    class Meta:
        model = Account
        fields = ["code", "name", "active"]
        read_only_fields = fields
