"""Parent orders: one client instruction worked as child orders at venues. Pure.

A parent never goes to a venue itself. Its children are ordinary orders (own ClOrdIDs, own
streams, own venue) that name it as `parent_id`, and everything that happens to a child is
mirrored on the parent as the parent's own events, in the same engine commit:

- the first child acknowledged acknowledges the parent;
- every child fill is a parent fill (ExecID `<child id>:<venue ExecID>`), so the parent's
  cum_qty, leaves_qty and avg_px are the roll-up of its children's, and it is filled only
  when they have filled all of it. A child fill after the parent was canceled is booked too:
  the shares were bought;
- when the last live child is done and the parent is not filled, the parent ends as its
  children did: canceled (asked for, or not), expired, or rejected if every child was.

Cancel and replace of a parent are passed on to its live children, each as its own request
to its own venue, with ClOrdID `<parent request's ClOrdID>.<child number>` (children are
`<parent ClOrdID>.<number>`), so every ClOrdID stays unique per account and day.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from . import events as ev
from .fold import apply
from .state import OrderState
from .transitions import is_allowed
from .values import OrderType, OrdStatus, RequestKind, TimeInForce


class _Builder:
    """Events for several orders, each folded as it is added so the next sees its effect."""

    def __init__(self, states: Mapping[int, OrderState]) -> None:
        self.states = dict(states)
        self.events: list[ev.Event] = []

    def add(self, event: ev.Event) -> None:
        current = self.states.get(event.order_id)
        if current is not None and not is_allowed(current.status, type(event)):
            reason = f"parent_{type(event).__name__}"
            event = ev.ExecutionAnomalyRecorded(
                event.order_id, event.at_ns, f"anomaly:{len(self.events)}:{event.at_ns}", reason,
                f"{type(event).__name__} is not possible on a {current.status.value} order",
            )  # fmt: skip
        self.states[event.order_id] = apply(current, event)
        self.events.append(event)


def child_cl_ord_id(parent: OrderState, number: int) -> str:
    return f"{parent.cl_ord_id}.{number}"


def child_request_cl_ord_id(parent_request_cl_ord_id: str, child: OrderState) -> str:
    """A child's share of its parent's cancel or replace: the parent request's ClOrdID and the
    child's number, so each stays unique per account and day and traceable to the parent's."""
    return f"{parent_request_cl_ord_id}.{child.cl_ord_id.rsplit('.', 1)[-1]}"


def route(parent: OrderState, routed: ev.OrderRouted) -> list[ev.Event]:
    """The routing decision on the parent, then each child's creation."""
    events: list[ev.Event] = [routed]
    for number, child in enumerate(routed.children, start=len(parent.children) + 1):
        events.append(
            ev.OrderAccepted(
                child.order_id,
                routed.at_ns,
                parent.account,
                child_cl_ord_id(parent, number),
                parent.symbol,
                parent.side,
                child.quantity,
                parent.order_type,
                parent.time_in_force,
                parent.limit_price,
                venue=child.venue,
                parent_id=parent.order_id,
            )
        )
    return events


def roll_up(
    parent: OrderState,
    child: OrderState,
    child_events: list[ev.Event],
    orders: Mapping[int, OrderState],
    at_ns: int,
    before: OrderState | None = None,
) -> list[ev.Event]:
    """The parent's events for what just happened to one of its children (`child`: after it;
    `before`: before it, when known).

    `orders` holds the parent's other children as they are now."""
    out = _Builder({parent.order_id: parent, child.order_id: child})
    pid = parent.order_id
    for event in child_events:
        current = out.states[pid]
        if isinstance(event, ev.OrderAcknowledged | ev.OrderReplaced) and not current.acknowledged:
            out.add(ev.OrderAcknowledged(pid, at_ns, f"{child.order_id}:{event.exec_id}"))
        elif isinstance(event, ev.OrderPartiallyFilled | ev.OrderFilled):
            cum_qty = current.cum_qty + event.last_qty
            exec_id = f"{child.order_id}:{event.exec_id}"
            if cum_qty > current.quantity:
                out.add(ev.ExecutionAnomalyRecorded(
                    pid, at_ns, exec_id, "overfill",
                    f"child {child.order_id}'s fill of {event.last_qty} takes the parent to {cum_qty}, over "
                    f"{current.quantity}",
                ))  # fmt: skip
                continue
            fill = ev.OrderFilled if cum_qty == current.quantity else ev.OrderPartiallyFilled
            out.add(fill(pid, at_ns, exec_id, event.last_qty, event.last_px))
        elif (
            isinstance(event, ev.OrderCancelRejected)
            and _cancel_pending(current)
            and not child.is_done
            and child.pending is None
        ):
            # A child's venue refused the parent's cancel and the child works on: the parent's
            # cancel did not happen as asked. Say so on the parent (its other children may be
            # canceled already); the trader can cancel again. (Only a refusal that answered the
            # child's pending cancel leaves it with none: a late one, of a request answered
            # before, leaves the pending request standing, and the parent's cancel with it.)
            assert current.pending is not None
            why = f"child {child.order_id}: {event.text or event.reason}"
            out.add(ev.OrderCancelRejected(pid, at_ns, current.pending.cl_ord_id, current.cl_ord_id, "child_refused",
                                           why))  # fmt: skip
    children = {c: orders[c] for c in parent.children if c in orders} | {child.order_id: child}
    current = out.states[pid]
    others_live = [c for c in children.values() if c.order_id != child.order_id and not c.is_done]
    if before is not None and _ended_on_its_own(before, child) and others_live and not current.is_done:
        if not _cancel_pending(current):
            # The venue ended a child nobody asked to end (it lost it, or expired it): the parent
            # now works less than it shows open. Say so on the parent, where the trader looks.
            working = sum((heading_for(c) for c in others_live), Decimal(0))
            out.add(ev.ExecutionAnomalyRecorded(
                pid, at_ns, f"child-ended:{child.order_id}:{child.version}", "child_ended",
                f"child {child.order_id} ended {child.status.value} at the venue with {before.leaves_qty} open; "
                f"the other children work {working} of the parent's {current.leaves_qty}",
            ))  # fmt: skip
    if not current.is_done and all(c.is_done for c in children.values()):
        out.add(_ending(current, list(children.values()), child, at_ns))
    elif (
        _cancel_pending(current)
        and current.pending is not None
        and not child.is_done
        and child.pending is None
        and any(isinstance(e, ev.OrderReplaced | ev.OrderReplaceRejected) for e in child_events)
    ):
        # A parent cancel that found this child busy with a replace reaches it now the replace is
        # answered. (Not after the child's venue refused the cancel itself: that is final.)
        cl_ord_id = child_request_cl_ord_id(current.pending.cl_ord_id, child)
        out.add(ev.OrderCancelRequested(child.order_id, at_ns, cl_ord_id, child.cl_ord_id))
    return out.events[:]


def heading_for(child: OrderState) -> Decimal:
    """What a live child will have open once its pending request is answered as asked: a busy
    child counts at the size it is heading for, or two quick replaces would overshoot."""
    pending = child.pending
    if pending is None:
        return child.leaves_qty
    if pending.kind is RequestKind.CANCEL or pending.quantity is None:
        return Decimal(0)
    return max(pending.quantity - child.cum_qty, Decimal(0))


def _ended_on_its_own(before: OrderState, after: OrderState) -> bool:
    """The venue ended the child unasked and unfilled in part: not a fill, not our cancel, not the
    expected end of what a market order or an IOC or FOK could not fill at once."""
    if before.is_done or not after.is_done or after.status is OrdStatus.FILLED:
        return False
    if before.pending is not None and before.pending.kind is RequestKind.CANCEL:
        return False
    if before.order_type is OrderType.MARKET:
        return False
    return before.time_in_force not in (TimeInForce.IOC, TimeInForce.FOK)


def _cancel_pending(state: OrderState) -> bool:
    return state.pending is not None and state.pending.kind is RequestKind.CANCEL


def _ending(parent: OrderState, children: list[OrderState], last: OrderState, at_ns: int) -> ev.Event:
    """How a parent ends when its last live child is done and it is not filled."""
    exec_id = f"children-done:{last.order_id}:{last.version}"
    statuses = {c.status for c in children}
    if _cancel_pending(parent):
        return ev.OrderCanceled(parent.order_id, at_ns, exec_id)
    if OrdStatus.EXPIRED in statuses or OrdStatus.DONE_FOR_DAY in statuses:
        return ev.OrderExpired(parent.order_id, at_ns, exec_id)
    if statuses == {OrdStatus.REJECTED} and not parent.acknowledged:
        texts = "; ".join(sorted({c.text for c in children if c.text})) or "rejected"
        return ev.OrderVenueRejected(parent.order_id, at_ns, exec_id, f"every child was rejected: {texts}"[:500])
    return ev.OrderCanceled(parent.order_id, at_ns, exec_id)


def cancel(parent: OrderState, request: ev.OrderCancelRequested, orders: Mapping[int, OrderState]) -> list[ev.Event]:
    """The parent's cancel request, passed on to every live child that can take one now."""
    out = _Builder({parent.order_id: parent} | {c: orders[c] for c in parent.children if c in orders})
    out.add(request)
    for child_id in parent.children:
        child = out.states.get(child_id)
        if child is not None and not child.is_done and child.pending is None:
            cl_ord_id = child_request_cl_ord_id(request.cl_ord_id, child)
            out.add(ev.OrderCancelRequested(child_id, request.at_ns, cl_ord_id, child.cl_ord_id))
    return out.events[:]


def replace(parent: OrderState, request: ev.OrderReplaceRequested, orders: Mapping[int, OrderState]) -> list[ev.Event]:
    """Apply a replace to the parent at once and ask its live children to follow.

    The live children are made to have the new quantity less the fills open between them: a
    smaller parent takes the difference off its youngest children first (cancelling a child
    that would be left with nothing open); a larger one adds it to the youngest child that
    can take it; a new price goes to every live child. What cannot be passed on is said in
    the ParentReplaced event's text."""
    children = [orders[c] for c in parent.children if c in orders]
    live = [c for c in children if not c.is_done]
    notes: list[str] = []
    targets = {c.order_id: c.quantity for c in live}
    # What the live children should have open: the new quantity less what is filled. Measured
    # against what they have open now, not against the old parent quantity: a child the venue
    # already canceled no longer works any of it.
    change = Decimal(0)
    if request.quantity != parent.quantity:  # a new price alone leaves the children's sizes alone
        change = (request.quantity - parent.cum_qty) - sum((heading_for(c) for c in live), Decimal(0))
    if change < 0:
        remove = -change
        for child in reversed(live):
            if remove <= 0:
                break
            if child.pending is not None:
                continue
            cut = min(remove, child.leaves_qty)
            targets[child.order_id] -= cut
            remove -= cut
        if remove > 0:
            notes.append(f"{remove} could not be taken off the children (filled, or busy with a request)")
    elif change > 0:
        taker = next((c for c in reversed(live) if c.pending is None), None)
        if taker is None:
            notes.append(f"no live child could take the extra {change}")
        else:
            targets[taker.order_id] += change
    for child in live:
        if child.pending is not None:
            notes.append(f"child {child.order_id} was not changed: a {child.pending.kind.value} is pending there")
    out = _Builder({parent.order_id: parent} | {c.order_id: c for c in live})
    out.add(ev.ParentReplaced(parent.order_id, request.at_ns, request.cl_ord_id, request.orig_cl_ord_id,
                              request.quantity, request.limit_price, "; ".join(notes)))  # fmt: skip
    for child in live:
        if child.pending is not None:
            continue
        quantity = targets[child.order_id]
        price = request.limit_price
        if quantity == child.quantity and price == child.limit_price:
            continue
        if quantity <= child.cum_qty:
            cl_ord_id = child_request_cl_ord_id(request.cl_ord_id, child)
            out.add(ev.OrderCancelRequested(child.order_id, request.at_ns, cl_ord_id, child.cl_ord_id))
        else:
            cl_ord_id = child_request_cl_ord_id(request.cl_ord_id, child)
            out.add(ev.OrderReplaceRequested(child.order_id, request.at_ns, cl_ord_id, child.cl_ord_id,
                                             quantity, price))  # fmt: skip
    return out.events[:]
