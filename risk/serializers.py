"""REST shapes of the risk controls. Limits and figures are decimal strings; null is no limit."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from orders.serializers import CompactDecimalField
from risk.domain import Scope
from risk.models import LIMIT_FIELDS, KillSwitch

SHOWN = {"max_digits": 40, "decimal_places": 16, "read_only": True}
# As the risk tables store them; the engine checks the rest (zero or positive, below 1e22).
LIMIT_INPUT = {"max_digits": 30, "decimal_places": 8, "min_value": 0, "allow_null": True, "required": False}
REASON = {"max_length": 1000, "help_text": "Why: recorded in the audit log with the change. Required."}


class LimitSetSerializer(serializers.Serializer):
    max_order_qty = CompactDecimalField(**SHOWN, allow_null=True, help_text="Largest quantity of one order.")
    max_order_notional = CompactDecimalField(**SHOWN, allow_null=True, help_text="Largest quantity x price.")
    max_position_qty = CompactDecimalField(
        **SHOWN, allow_null=True, help_text="Per symbol, long or short, pending orders counted."
    )
    max_gross_notional = CompactDecimalField(**SHOWN, allow_null=True, help_text="Per account, positions + orders.")
    credit_limit = CompactDecimalField(**SHOWN, allow_null=True, help_text="Gross notional x margin rate.")
    max_messages_per_second = CompactDecimalField(**SHOWN, allow_null=True, help_text="Submits, replaces, cancels.")


class AccountLimitsSerializer(LimitSetSerializer):
    """An account's limits (null: no limit) and its per-symbol overrides (a set field wins)."""

    account = serializers.CharField(read_only=True)
    symbols = serializers.DictField(child=LimitSetSerializer(), read_only=True)


class AccountLimitsAnswerSerializer(AccountLimitsSerializer):
    detail = serializers.CharField(read_only=True, help_text="The engine's answer: what changed, old -> new.")


class LimitsChangeSerializer(serializers.Serializer):
    max_order_qty = serializers.DecimalField(**LIMIT_INPUT)
    max_order_notional = serializers.DecimalField(**LIMIT_INPUT)
    max_position_qty = serializers.DecimalField(**LIMIT_INPUT)
    max_gross_notional = serializers.DecimalField(**LIMIT_INPUT)
    credit_limit = serializers.DecimalField(**LIMIT_INPUT)
    max_messages_per_second = serializers.DecimalField(**LIMIT_INPUT)
    symbol = serializers.CharField(
        max_length=32, required=False, help_text="Change this symbol's overrides instead of the account's limits."
    )
    reason = serializers.CharField(**REASON)

    def validate(self, attrs: dict) -> dict:
        if not any(name in attrs for name in LIMIT_FIELDS):
            raise serializers.ValidationError(f"give at least one of: {', '.join(LIMIT_FIELDS)}")
        return attrs


class InstrumentRiskChangeSerializer(serializers.Serializer):
    price_band_pct = serializers.DecimalField(
        max_digits=8, decimal_places=4, min_value=Decimal("0.0001"), allow_null=True, required=False,
        help_text="A limit price may be this % away from the reference; null: the asset class default.",
    )  # fmt: skip
    max_reference_age_s = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0.001"), allow_null=True, required=False,
        help_text="An older reference rejects orders (stale_reference); null: the asset class default.",
    )  # fmt: skip
    restricted = serializers.BooleanField(required=False, help_text="Refuse every new order.")
    reason = serializers.CharField(**REASON)

    def validate(self, attrs: dict) -> dict:
        if not {"price_band_pct", "max_reference_age_s", "restricted"} & set(attrs):
            raise serializers.ValidationError("give at least one of: price_band_pct, max_reference_age_s, restricted")
        return attrs


class AccountUsageSymbolSerializer(serializers.Serializer):
    symbol = serializers.CharField(read_only=True)
    position = CompactDecimalField(**SHOWN)
    pending_buy = CompactDecimalField(**SHOWN)
    pending_sell = CompactDecimalField(**SHOWN)
    pending_buy_notional = CompactDecimalField(**SHOWN)
    pending_sell_notional = CompactDecimalField(**SHOWN)
    max_position_qty = CompactDecimalField(**SHOWN, allow_null=True, help_text="The account's, or the override.")
    position_headroom_buy = CompactDecimalField(
        **SHOWN, allow_null=True, help_text="limit - position - pending buys: what more buying may add."
    )
    position_headroom_sell = CompactDecimalField(
        **SHOWN, allow_null=True, help_text="limit + position - pending sells: what more selling may add."
    )


class HeadroomSerializer(serializers.Serializer):
    max_gross_notional = CompactDecimalField(**SHOWN, allow_null=True)
    credit_limit = CompactDecimalField(**SHOWN, allow_null=True)


class AccountUsageSerializer(serializers.Serializer):
    """What an account uses of its limits as the engine holds it: the figures the next order is
    checked against. Headroom is limit - used, null when there is no limit."""

    account = serializers.CharField(read_only=True)
    gross_notional = CompactDecimalField(**SHOWN)
    credit_used = CompactDecimalField(**SHOWN)
    limits = LimitSetSerializer(read_only=True)
    headroom = HeadroomSerializer(read_only=True)
    symbols = AccountUsageSymbolSerializer(many=True, read_only=True)
    as_of_ns = serializers.IntegerField(read_only=True, allow_null=True, help_text="When the engine published it.")


class KillSwitchSerializer(serializers.ModelSerializer):
    target = serializers.SerializerMethodField()
    reason = serializers.CharField(source="engage_reason", read_only=True)

    class Meta:
        model = KillSwitch
        fields = ["scope", "target", "engaged", "engaged_by", "reason", "engaged_at", "canceled", "released_by",
                  "released_at", "release_reason"]  # fmt: skip
        read_only_fields = fields

    def get_target(self, switch: KillSwitch) -> str | None:
        return switch.target or None


class KillSwitchRequestSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=[s.value for s in Scope])
    target = serializers.CharField(
        max_length=150, required=False, allow_null=True, allow_blank=True,
        help_text="Account code, username or venue name; absent for the firm.",
    )  # fmt: skip
    reason = serializers.CharField(**REASON)

    def validate(self, attrs: dict) -> dict:
        if attrs["scope"] != Scope.FIRM and not attrs.get("target"):
            raise serializers.ValidationError({"target": [f"a {attrs['scope']} kill switch needs a target"]})
        if attrs["scope"] == Scope.FIRM and attrs.get("target"):
            raise serializers.ValidationError({"target": ["the firm kill switch takes no target"]})
        return attrs


class KillSwitchAnswerSerializer(serializers.Serializer):
    switch = KillSwitchSerializer(allow_null=True, read_only=True)
    detail = serializers.CharField(read_only=True, help_text="The engine's answer, e.g. how many orders it canceled.")
