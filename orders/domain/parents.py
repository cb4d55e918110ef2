"""Parent orders: one client instruction worked as child orders at venues. Pure.

A parent never goes to a venue itself. Its children are ordinary orders (own ClOrdIDs, own
streams, own venue) that name it as `parent_id`, and everything that happens to a child is
mirrored on the parent as the parent's own events, in the same engine commit:

- the first child acknowledged acknowledges the parent;
- every child fill is a parent fill (ExecID `<child id>:<venue ExecID>`), so the parent's
  cum_qty and avg_px are always the roll-up of its children's, and it is filled only when
  they have filled all of it and none works on. A fill that executed is never dropped: a
  child fill after the parent was canceled is booked too (the shares were bought), and one
  that takes the parent past its quantity (a cut the venue refused as too late) first raises
  the parent's quantity to what executed (ParentQuantityRaised, with a note). A child's bust
  or correction is the parent's too;
- when the last live child is done and the parent is not filled, the parent ends as its
  children did: canceled (asked for, or not), expired, or rejected if every child was.

Cancel and replace of a parent are passed on to its live children, each as its own request
to its own venue, with ClOrdID `<parent request's ClOrdID>.<child number>` (children are
`<parent ClOrdID>.<number>`), so every ClOrdID stays unique per account and day. A parent
replace is pending (pending_replace, as FIX's PendingReplace) until every child it reached has
answered; then the parent takes what its children really did (`replace_outcome`).
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
    children = {c: orders[c] for c in parent.children if c in orders} | {child.order_id: child}
    others_live = [c for c in children.values() if c.order_id != child.order_id and not c.is_done]
    for event in child_events:
        current = out.states[pid]
        if isinstance(event, ev.OrderAcknowledged | ev.OrderReplaced) and not current.acknowledged:
            out.add(ev.OrderAcknowledged(pid, at_ns, f"{child.order_id}:{event.exec_id}"))
        elif isinstance(event, ev.OrderPartiallyFilled | ev.OrderFilled):
            cum_qty = current.cum_qty + event.last_qty
            _raise_to(out, current, max(cum_qty, _committed(current, children)), at_ns,
                      f"child {child.order_id}'s fill of {event.last_qty}")  # fmt: skip
            # Filled only when nothing works on: a child still live can fill more than the quantity shown.
            done = cum_qty >= out.states[pid].quantity and child.is_done and not others_live
            fill = ev.OrderFilled if done else ev.OrderPartiallyFilled
            out.add(fill(pid, at_ns, f"{child.order_id}:{event.exec_id}", event.last_qty, event.last_px))
            if done and current.pending is not None:
                out.add(_too_late(current, at_ns))
        elif isinstance(event, ev.FillBusted):
            out.add(ev.FillBusted(pid, at_ns, f"{child.order_id}:{event.exec_id}",
                                  f"{child.order_id}:{event.ref_exec_id}", event.last_qty, event.last_px,
                                  f"child {child.order_id}: {event.text}"))  # fmt: skip
        elif isinstance(event, ev.FillCorrected):
            cum_qty = current.cum_qty - event.old_last_qty + event.last_qty
            _raise_to(out, current, max(cum_qty, _committed(current, children)), at_ns,
                      f"child {child.order_id}'s corrected fill")  # fmt: skip
            out.add(ev.FillCorrected(pid, at_ns, f"{child.order_id}:{event.exec_id}",
                                     f"{child.order_id}:{event.ref_exec_id}", event.last_qty, event.last_px,
                                     event.old_last_qty, event.old_last_px,
                                     f"child {child.order_id}: {event.text}"))  # fmt: skip
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
    current = out.states[pid]
    reopened = before is not None and before.is_done and not child.is_done  # a bust reinstated it
    if before is not None and _ended_on_its_own(before, child) and others_live and not current.is_done:
        if not _cancel_pending(current):
            # The venue ended a child nobody asked to end (it lost it, or expired it): the parent
            # now works less than it shows open. Say so on the parent, where the trader looks.
            working = sum((heading_for(c) for c in others_live), Decimal(0))
            out.add(ev.ExecutionAnomalyRecorded(
                pid, at_ns, f"child-ended:{child.order_id}:{child.version}", "child_ended",
                f"child {child.order_id} ended {child.status.value} at the venue with "
                f"{child.quantity - child.cum_qty} open; "
                f"the other children work {working} of the parent's {current.leaves_qty}",
            ))  # fmt: skip
    if _replace_pending(current) and not any(c.pending is not None for c in children.values() if not c.is_done):
        # Every child the replace reached has answered (or ended): the parent's replace takes effect.
        out.add(replace_outcome(current, list(children.values()), at_ns, _refusal_text(child_events)))
        current = out.states[pid]
    if not current.is_done and all(c.is_done for c in children.values()):
        out.add(_ending(current, list(children.values()), child, at_ns))
    elif (
        _cancel_pending(current)
        and current.pending is not None
        and not child.is_done
        and child.pending is None
        and (reopened or any(isinstance(e, ev.OrderReplaced | ev.OrderReplaceRejected) for e in child_events))
    ):
        # A parent cancel that found this child busy with a replace reaches it now the replace is
        # answered, or now a bust made it work again. (Not after the child's venue refused the
        # cancel itself: that is final.)
        cl_ord_id = child_request_cl_ord_id(current.pending.cl_ord_id, child)
        out.add(ev.OrderCancelRequested(child.order_id, at_ns, cl_ord_id, child.cl_ord_id))
    elif reopened and current.is_done and child.pending is None:
        # A bust made the venue work a child of a parent that is over: nobody's instruction is left
        # for it. Cancel it, and say so on the parent.
        out.add(ev.ExecutionAnomalyRecorded(
            pid, at_ns, f"child-reopened:{child.order_id}:{child.version}", "child_reopened",
            f"a bust made child {child.order_id} work again after the parent ended {current.status.value}; "
            "it is canceled",
        ))  # fmt: skip
        cl_ord_id = child_request_cl_ord_id(f"{current.cl_ord_id}-end{child.version}", child)
        out.add(ev.OrderCancelRequested(child.order_id, at_ns, cl_ord_id, child.cl_ord_id))
    return out.events[:]


def _committed(parent: OrderState, children: Mapping[int, OrderState]) -> Decimal:
    """What the children can still execute, the done ones what they filled: what a parent not busy
    with a replace must show at least (a late fill on an ended child can take them past it)."""
    if _replace_pending(parent):
        return Decimal(0)  # the outcome of the replace settles the quantity
    return sum((c.cum_qty if c.is_done else c.quantity for c in children.values()), Decimal(0))


def _raise_to(out: _Builder, parent: OrderState, quantity: Decimal, at_ns: int, cause: str) -> None:
    """Before the parent books what takes it past its quantity, its quantity grows to it."""
    if quantity <= parent.quantity:
        return
    out.add(ev.ParentQuantityRaised(
        parent.order_id, at_ns, quantity,
        f"{cause} takes the parent's children to {quantity} executed or working, over its {parent.quantity}: "
        "the parent's quantity follows what they really do",
    ))  # fmt: skip


def _too_late(parent: OrderState, at_ns: int) -> ev.Event:
    """The answer to the parent's pending request, when its children filled it first."""
    assert parent.pending is not None
    refused = ev.OrderCancelRejected if parent.pending.kind is RequestKind.CANCEL else ev.OrderReplaceRejected
    text = f"too late to {parent.pending.kind.value}: the children filled the order first"
    return refused(parent.order_id, at_ns, parent.pending.cl_ord_id, parent.cl_ord_id, "too_late", text)


def _refusal_text(events: list[ev.Event]) -> str:
    refusals = [e for e in events if isinstance(e, ev.OrderReplaceRejected | ev.OrderCancelRejected)]
    return refusals[-1].text or refusals[-1].reason if refusals else ""


def _replace_pending(state: OrderState) -> bool:
    return state.pending is not None and state.pending.kind is RequestKind.REPLACE


def replace_outcome(parent: OrderState, children: list[OrderState], at_ns: int, why: str = "") -> ev.Event:
    """How a parent's pending replace ends, once none of its children is busy with a request.

    The parent takes what its children really did, never what was only asked:
    - quantity: what was asked, unless the children are set to execute more (a cut refused, a
      fill first): then that; a raise the children did not take leaves the old quantity;
    - price: the new one only if every child still working took it; a child that kept its old
      limit trades at it, so the parent keeps its old price and says which child kept what.
    Nothing changed at all: the replace was refused (OrderReplaceRejected), with the reason."""
    pending = parent.pending
    assert pending is not None and pending.quantity is not None
    asked_quantity, asked_price = pending.quantity, pending.limit_price
    # What the children can still execute: the done ones what they filled, the live ones their size.
    committed = sum((c.cum_qty if c.is_done else c.quantity for c in children), Decimal(0))
    notes = []
    if asked_quantity > parent.quantity and committed < asked_quantity:
        quantity = max(parent.quantity, committed)
        notes.append(f"the children did not take the raise to {asked_quantity}; the parent stays at {quantity}")
    else:
        quantity = max(asked_quantity, committed, parent.cum_qty)
        if quantity > asked_quantity:
            notes.append(f"the children could not be cut to {asked_quantity}: {committed} is filled or working "
                         f"({parent.cum_qty} filled), so the parent's quantity is {quantity}")  # fmt: skip
    price = asked_price
    if asked_price != parent.limit_price:
        kept = [c for c in children if not c.is_done and c.limit_price != asked_price]
        if kept:
            price = parent.limit_price
            shown = ", ".join(f"child {c.order_id} at {c.limit_price}" for c in kept)
            notes.append(f"not every child took the price {asked_price} ({shown}); the parent keeps {price}")
    if why and notes:
        notes.append(f"the venue said: {why}")
    text = "; ".join(notes)[:500]
    if quantity == parent.quantity and price == parent.limit_price:
        return ev.OrderReplaceRejected(parent.order_id, at_ns, pending.cl_ord_id, parent.cl_ord_id, "child_refused",
                                       text or "no child took the replace")  # fmt: skip
    return ev.ParentReplaced(parent.order_id, at_ns, pending.cl_ord_id, parent.cl_ord_id, quantity, price, text)


def unworked(parent: OrderState, children: list[OrderState]) -> Decimal:
    """What the parent has open that none of its live children works (a child the venue lost):
    what a re-route may place again, and never more, so the children never work more than the
    parent has open."""
    target = parent.quantity
    if _replace_pending(parent) and parent.pending is not None and parent.pending.quantity is not None:
        target = parent.pending.quantity
    working = sum((heading_for(c) for c in children if not c.is_done), Decimal(0))
    return max(target - parent.cum_qty - working, Decimal(0))


def heading_for(child: OrderState) -> Decimal:
    """What a live child may have open once its pending request is answered, counted on the safe
    side: a replace at the larger of its sizes (two quick raises must not overshoot, and a cut
    the venue refuses leaves the old size); a cancel at what it has open (the venue may refuse it)."""
    pending = child.pending
    if pending is None or pending.kind is RequestKind.CANCEL or pending.quantity is None:
        return child.leaves_qty
    return max(max(pending.quantity, child.quantity) - child.cum_qty, Decimal(0))


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
    if OrdStatus.EXPIRED in statuses:
        return ev.OrderExpired(parent.order_id, at_ns, exec_id)
    if OrdStatus.DONE_FOR_DAY in statuses:
        return ev.OrderDoneForDay(parent.order_id, at_ns, exec_id)
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
    """The parent's replace request, passed on to its live children; it takes effect on the
    parent once they have answered (`replace_outcome`), at once if no child needs a change.

    The live children are asked to have the new quantity less the fills open between them: a
    smaller parent takes the difference off its youngest children first (cancelling a child
    that would be left with nothing open); a larger one adds it to the youngest child that
    can take it; a new price goes to every live child."""
    children = [orders[c] for c in parent.children if c in orders]
    live = [c for c in children if not c.is_done]
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
    elif change > 0:
        taker = next((c for c in reversed(live) if c.pending is None), None)
        if taker is not None:
            targets[taker.order_id] += change
    out = _Builder({parent.order_id: parent} | {c.order_id: c for c in live})
    out.add(request)
    for child in live:
        if child.pending is not None:
            continue  # busy with a request of its own: the outcome waits for its answer, and says what it did
        quantity = targets[child.order_id]
        price = request.limit_price
        if quantity == child.quantity and price == child.limit_price:
            continue
        cl_ord_id = child_request_cl_ord_id(request.cl_ord_id, child)
        if quantity <= child.cum_qty:
            out.add(ev.OrderCancelRequested(child.order_id, request.at_ns, cl_ord_id, child.cl_ord_id))
        else:
            out.add(ev.OrderReplaceRequested(child.order_id, request.at_ns, cl_ord_id, child.cl_ord_id,
                                             quantity, price))  # fmt: skip
    after = [out.states.get(c.order_id, c) for c in children]
    if not any(c.pending is not None for c in after if not c.is_done):
        out.add(replace_outcome(out.states[parent.order_id], after, request.at_ns))
    return out.events[:]
