"""Breaks as the engine holds them: a fold of the reconciliation events, and the two decisions
made on them (a run's differences, a person's resolution). Pure: the engine calls these with
its state and a command, and records what they return.

A run compares one venue for the accounts it asked about (and its open orders when it asked for
them). For each difference:
- an open break with the same key and the same figures: nothing (it stays open);
- the latest break with that key dismissed with the same figures: nothing (a person has looked
  at exactly this difference; a changed one opens a new break);
- the latest break with that key accepted with the same figures: nothing. The run read the OMS's
  figure before the adjustment was booked (it was in flight while the person accepted): opening
  it again would invite a second acceptance, booking the adjustment twice. The next run reads the
  adjusted figure and matches;
- otherwise a new break; an open one with the same key and other figures is cleared as
  superseded by it.
An open break within the run's scope that the run did not find any more is cleared ("cleared
on the next run"). Breaks outside the scope (another venue, an account not answered, orders not
checked) stay as they are, and a difference outside it opens nothing: what the venue did not
answer completely is not known to differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from reconciliation.domain import events as rev
from reconciliation.domain.compare import ORDER, POSITION, Difference

OPEN = "open"
CLEARED = "cleared"
ACCEPTED = "accepted"
DISMISSED = "dismissed"
RESOLUTIONS = {"accept": ACCEPTED, "dismiss": DISMISSED}


@dataclass(frozen=True, slots=True)
class Break:
    """One break, as the engine decides on it: plain values only (snapshots store it)."""

    break_id: int
    version: int  # events on its stream
    kind: str
    venue: str
    account: str
    subject: str
    oms_quantity: Decimal | None
    venue_quantity: Decimal | None
    oms_status: str
    venue_status: str
    venue_price: Decimal | None
    opened_at_ns: int
    status: str = OPEN  # open | cleared | accepted | dismissed

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.venue, self.account, self.subject)

    @property
    def figures(self) -> tuple[Decimal | None, Decimal | None, str, str]:
        return (self.oms_quantity, self.venue_quantity, self.oms_status, self.venue_status)

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


class BreakRefused(Exception):
    """A resolution the engine refuses: `reason` (machine) and the message (people)."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


def apply(current: Break | None, event: rev.ReconciliationEvent) -> Break:
    """The break after `event` (the fold; `current` None only for its ReconciliationBreak)."""
    if isinstance(event, rev.ReconciliationBreak):
        return Break(
            event.stream_id, 1, event.kind, event.venue, event.account, event.subject, event.oms_quantity,
            event.venue_quantity, event.oms_status, event.venue_status, event.venue_price, event.at_ns,
        )  # fmt: skip
    if current is None:
        raise ValueError(f"{type(event).__name__} for break {event.stream_id}, which never opened")
    if isinstance(event, rev.ReconciliationBreakCleared):
        return replace(current, version=current.version + 1, status=CLEARED)
    if isinstance(event, rev.ReconciliationBreakResolved):
        return replace(current, version=current.version + 1, status=event.resolution)
    return replace(current, version=current.version + 1)  # PositionAdjusted: resolved by the next event


def open_breaks(breaks: Mapping[int, Break]) -> list[Break]:
    return [b for b in breaks.values() if b.is_open]


def decide_run(
    breaks: Mapping[int, Break],
    *,
    venue: str,
    accounts: Iterable[str],
    orders_checked: bool,
    differences: Iterable[Difference],
    at_ns: int,
    run_id: str,
) -> list[rev.ReconciliationEvent]:
    """The events one run's differences make, given the breaks so far (see the module doc)."""
    asked = set(accounts)
    latest: dict[tuple[str, str, str, str], Break] = {}
    for b in sorted(breaks.values(), key=lambda b: b.break_id):
        latest[b.key] = b
    next_id = max(breaks, default=0) + 1
    events: list[rev.ReconciliationEvent] = []
    found: set[tuple[str, str, str, str]] = set()

    def in_scope(kind: str, at_venue: str, account: str) -> bool:
        return at_venue == venue and ((kind == POSITION and account in asked) or (kind == ORDER and orders_checked))

    for difference in differences:
        if not in_scope(difference.kind, difference.venue, difference.account) or difference.key in found:
            continue
        found.add(difference.key)
        before = latest.get(difference.key)
        if before is not None and before.status in (OPEN, DISMISSED, ACCEPTED) and before.figures == difference.figures:
            continue
        if before is not None and before.is_open:
            changed = f"the difference changed: break {next_id} holds it now"
            events.append(rev.ReconciliationBreakCleared(before.break_id, at_ns, changed, next_id, run_id))
        events.append(rev.ReconciliationBreak(
            next_id, at_ns, difference.kind, venue, difference.account, difference.subject, difference.oms_quantity,
            difference.venue_quantity, difference.oms_status, difference.venue_status, difference.venue_price,
            difference.text, run_id,
        ))  # fmt: skip
        next_id += 1
    for b in sorted(open_breaks(breaks), key=lambda b: b.break_id):
        if in_scope(b.kind, b.venue, b.account) and b.key not in found:
            events.append(rev.ReconciliationBreakCleared(
                b.break_id, at_ns, "cleared on the next run: the OMS and the venue agree", None, run_id))  # fmt: skip
    return events


def decide_resolution(
    breaks: Mapping[int, Break], *, break_id: int, resolution: str, reason: str, at_ns: int
) -> list[rev.ReconciliationEvent]:
    """A person's resolution of an open break. Raises BreakRefused."""
    if not reason or not reason.strip():
        raise BreakRefused("missing_reason", "a reason is required: it is recorded with the resolution")
    if resolution not in RESOLUTIONS:
        raise BreakRefused("invalid_resolution", f"resolution must be accept or dismiss, not {resolution!r}")
    found = breaks.get(break_id)
    if found is None:
        raise BreakRefused("unknown_break", f"no reconciliation break {break_id}")
    if not found.is_open:
        raise BreakRefused("break_closed", f"break {break_id} is already {found.status}")
    resolved = rev.ReconciliationBreakResolved(break_id, at_ns, RESOLUTIONS[resolution], reason.strip())
    if resolution == "dismiss":
        return [resolved]
    if found.kind != POSITION:
        raise BreakRefused(
            "not_adjustable",
            f"break {break_id} is about an order: the OMS books an order's state only from the venue's reports "
            "(the connector's status resync asks for them); dismiss it once checked",
        )
    delta = (found.venue_quantity or Decimal(0)) - (found.oms_quantity or Decimal(0))
    adjusted = rev.PositionAdjusted(break_id, at_ns, found.venue, found.account, found.subject, delta,
                                    found.venue_price, reason.strip())  # fmt: skip
    return [adjusted, resolved]
