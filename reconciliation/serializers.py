from __future__ import annotations

from rest_framework import serializers

from reconciliation.models import ReconciliationBreak


class BreakSerializer(serializers.ModelSerializer):
    difference = serializers.DecimalField(max_digits=30, decimal_places=8, read_only=True, allow_null=True,
                                          help_text="venue_quantity - oms_quantity (positions)")  # fmt: skip

    class Meta:
        model = ReconciliationBreak
        fields = [
            "id", "kind", "venue", "account", "subject", "oms_quantity", "venue_quantity", "difference",
            "oms_status", "venue_status", "venue_price", "text", "status", "opened_at", "closed_at", "closed_by",
            "close_text", "adjustment", "position",
        ]  # fmt: skip
        read_only_fields = fields


class ResolveSerializer(serializers.Serializer):
    resolution = serializers.ChoiceField(
        choices=["accept", "dismiss"],
        help_text="accept: book the venue's figure as an audited position adjustment; dismiss: close, book nothing",
    )
    reason = serializers.CharField(max_length=500, trim_whitespace=True, help_text="Required; recorded in the log.")


# The answer to a resolution: the engine's text and the break as it left it ("break" is a keyword,
# hence the class built by name).
ResolveAnswerSerializer = type(
    "ResolveAnswerSerializer",
    (serializers.Serializer,),
    {"detail": serializers.CharField(), "break": BreakSerializer(), "__module__": __name__},
)
