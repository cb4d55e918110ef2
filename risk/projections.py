"""The risk tables follow the log's risk control events, in the engine's transaction (like the
orders' projections): limits and instrument controls take their new values, the kill switch table
says what is engaged. Each event carries absolute values, so replaying the log
(rebuild_projections) ends where the live tables are."""

from __future__ import annotations

from decimal import Decimal

from django.dispatch import receiver

from orders.models import Instrument, ns_to_datetime
from orders.store import StoredEvent, events_appended
from risk.domain import events as risk_ev
from risk.models import AccountLimits, KillSwitch, SymbolLimits


@receiver(events_appended, dispatch_uid="risk.project_risk_controls")
def project_risk_controls(sender: object, events: list[StoredEvent], **kwargs: object) -> None:
    for stored in events:
        if stored.stream_type != risk_ev.RISK_STREAM:
            continue
        event = stored.event
        if isinstance(event, risk_ev.RiskLimitsChanged):
            _limits_changed(event)
        elif isinstance(event, risk_ev.InstrumentRiskChanged):
            _instrument_changed(event)
        elif isinstance(event, risk_ev.KillSwitchEngaged):
            KillSwitch.objects.update_or_create(
                scope=event.scope,
                target=event.target or "",
                defaults={
                    "engaged": True, "engaged_by": stored.actor, "engaged_at": ns_to_datetime(event.at_ns),
                    "engage_reason": event.reason, "canceled": event.canceled, "released_by": "",
                    "released_at": None, "release_reason": "", "position": stored.position,
                },
            )  # fmt: skip
        elif isinstance(event, risk_ev.KillSwitchReleased):
            KillSwitch.objects.filter(scope=event.scope, target=event.target or "").update(
                engaged=False, released_by=stored.actor, released_at=ns_to_datetime(event.at_ns),
                release_reason=event.reason, position=stored.position,
            )  # fmt: skip


def _limits_changed(event: risk_ev.RiskLimitsChanged) -> None:
    values = {c.name: None if c.new is None else Decimal(c.new) for c in event.changes}
    if event.symbol is None:
        AccountLimits.objects.update_or_create(account_id=event.account, defaults=values)
    else:
        SymbolLimits.objects.update_or_create(account_id=event.account, symbol=event.symbol, defaults=values)


def _instrument_changed(event: risk_ev.InstrumentRiskChanged) -> None:
    values: dict[str, object] = {}
    for change in event.changes:
        if change.name == "restricted":
            values["restricted"] = change.new == "true"
        else:
            values[change.name] = None if change.new is None else Decimal(change.new)
    Instrument.objects.filter(symbol=event.symbol).update(**values)
