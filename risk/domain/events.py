"""Risk control events: changes to limits and instrument controls, and the kill switch.

They are in the same log as the orders' events, on their own stream (stream_type RISK_STREAM,
stream id 0), so a decision is reconstructable from the log alone: which limits held, which
switches were engaged, by whom (the log's `actor`), when and why. Every change carries the old
value beside the new one, and a reason (required).
"""

from __future__ import annotations

from dataclasses import dataclass

RISK_STREAM = "risk"
RISK_STREAM_ID = 0


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One setting, before and after: decimals and booleans as text, None for "no limit"."""

    name: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class RiskLimitsChanged:
    """An account's limits (or its overrides for one symbol) changed."""

    stream_id: int
    at_ns: int
    account: str
    symbol: str | None  # None: the account's own limits; else its override for this symbol
    changes: tuple[SettingChange, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class InstrumentRiskChanged:
    """An instrument's controls changed: its price band, the reference age it accepts, restricted."""

    stream_id: int
    at_ns: int
    symbol: str
    changes: tuple[SettingChange, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class KillSwitchEngaged:
    """New orders in scope are refused from now on; `canceled` live orders in scope were asked to
    cancel by the same command (their OrderCancelRequested events follow this one)."""

    stream_id: int
    at_ns: int
    scope: str  # firm | account | trader | venue
    target: str | None  # account code, username or venue name; None for the firm
    reason: str
    canceled: int


@dataclass(frozen=True, slots=True)
class KillSwitchReleased:
    stream_id: int
    at_ns: int
    scope: str
    target: str | None
    reason: str


RiskEvent = RiskLimitsChanged | InstrumentRiskChanged | KillSwitchEngaged | KillSwitchReleased

RISK_EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (RiskLimitsChanged, InstrumentRiskChanged, KillSwitchEngaged, KillSwitchReleased)
}
