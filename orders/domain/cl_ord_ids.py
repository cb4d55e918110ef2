"""ClOrdID (11) claims: FIX wants a ClOrdID unique per account and trading day, across orders and
their cancel and replace requests. Which events claim one, what it then names, and the days a
submission's ClOrdID is checked against. Pure: the engine keeps the claims in memory, the
`cl_ord_id_claims` projection keeps them behind a unique constraint in the database."""

from __future__ import annotations

from datetime import date

from . import events as ev
from .calendar import Zone, trading_day

# A client's retry of a submission may reach the engine after the trading day rolled: it is still
# the submission of the day it was first sent, never a second order. A ClOrdID used on the previous
# day this recently (and the engine's reply timeout is seconds) is taken to be the same submission.
RETRY_WINDOW_NS = 600 * 1_000_000_000

CLAIMING_EVENTS = (
    ev.OrderAccepted,
    ev.OrderRejected,
    ev.OrderCancelRequested,
    ev.OrderCancelRejected,
    ev.OrderReplaceRequested,
    ev.OrderReplaceRejected,
    ev.ParentReplaced,
)


def introduced(event: ev.Event) -> str | None:
    """The ClOrdID this event claims for its account and day, if any."""
    if isinstance(event, CLAIMING_EVENTS):
        return event.cl_ord_id
    return None


def named_by(event: ev.Event) -> str:
    """What a ClOrdID introduced by this event names: the order, one of its requests, or a child
    order the router made (its ClOrdID is the OMS's: a client sending it is told it is taken)."""
    if isinstance(event, ev.OrderAccepted) and event.parent_id is not None:
        return "child"
    if isinstance(event, ev.OrderCancelRequested | ev.OrderCancelRejected):
        return "cancel"
    if isinstance(event, ev.OrderReplaceRequested | ev.OrderReplaceRejected | ev.ParentReplaced):
        return "replace"
    return "order"


def days_to_check(at_ns: int, zone: Zone) -> tuple[date, ...]:
    """The trading days a ClOrdID received at `at_ns` is looked up in: its own, and the one before
    while a retry of a submission sent then can still arrive."""
    today = trading_day(at_ns, zone)
    before = trading_day(at_ns - RETRY_WINDOW_NS, zone)
    return (today,) if before == today else (today, before)


def with_suffix(cl_ord_id: str, number: int) -> str:
    """A ClOrdID the OMS made (a child's, or its request's) that a client already used today
    gets a suffix: `P-1.2` -> `P-1.2~2`. (Clients' ClOrdIDs are at most 64 characters.)"""
    return f"{cl_ord_id}~{number}"
