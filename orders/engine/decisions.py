"""What a handler answers (`Outcome`, `Decision`) and what it reads besides the engine's state and
the command (`Inputs`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orders.domain.calendar import Zone
from orders.engine.market import MarketInputs
from orders.engine.reference import ReferenceData


@dataclass
class Outcome:
    """What the engine answers a sender."""

    outcome: str  # accepted | rejected | duplicate | no_change | anomaly | expired | error
    order_id: int | None = None
    reason: str = ""
    text: str = ""

    def as_reply(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "order_id": self.order_id, "reason": self.reason, "text": self.text}


@dataclass(frozen=True)
class Inputs:
    """Everything a decision reads besides the engine's state and the command."""

    reference: ReferenceData
    market: MarketInputs
    now_ns: int
    zone: Zone  # the OMS's trading day (its calendar): ClOrdIDs are unique per account per day


Decision = tuple[Outcome, list[Any]]  # (the answer, the events: orders' and risk controls')
