"""Risk control commands: the kill switch, limit and instrument control changes. Pure, like the
other handlers: the engine's state, its inputs and the command in; the answer and the events out.

Engaging a switch records `KillSwitchEngaged` and, in the same command, a cancel request for
every live order in its scope (a parent's children follow it): the venue connector sends them at
once (one mass cancel per venue for a firm or venue switch). An order that could not be asked
then (a replace pending, or never acknowledged) is asked as soon as its venue answers (`sweep`).
Nobody is checked here for the right to do it: the edges (REST, admin, CLI) check roles.
"""

from __future__ import annotations

from typing import Any

from orders.domain import cl_ord_ids, parents
from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.calendar import trading_day
from orders.domain.decide import decide
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.engine.decisions import Decision, Inputs, Outcome
from orders.engine.state import EngineState
from risk import configuration
from risk.domain import NO_LIMITS, Scope, Switch
from risk.domain import events as risk_ev
from risk.domain.limits import SYMBOL_LIMITS

STREAM = risk_ev.RISK_STREAM_ID


def engage(state: EngineState, inputs: Inputs, command: cmd.EngageKillSwitch) -> Decision:
    refusal = _scope_refusal(inputs, command.scope, command.target) or _reason_refusal(command.reason)
    if refusal is not None:
        return refusal, []
    scope = Scope(command.scope)
    target = None if scope is Scope.FIRM else command.target
    switch = Switch(scope, target, command.actor, command.reason, command.received_at_ns)
    cancels: list[Any] = []
    asked = 0
    for order_id in sorted(state.live):  # in order: the same cancel ClOrdIDs live and on replay
        order = state.orders[order_id]
        if _in_scope(switch, order, state):
            events = _cancel(state, inputs, order, command.received_at_ns, f"KS{state.risk_version + 1}")
            asked += bool(events)
            cancels += events
    engaged = risk_ev.KillSwitchEngaged(STREAM, command.received_at_ns, scope.value, target, command.reason, asked)
    text = f"{_name(scope, target)} kill switch engaged; {asked} live order(s) asked to cancel"
    return Outcome("accepted", text=text), [engaged, *cancels]


def release(state: EngineState, inputs: Inputs, command: cmd.ReleaseKillSwitch) -> Decision:
    refusal = _reason_refusal(command.reason)
    if refusal is not None:
        return refusal, []
    try:
        scope = Scope(command.scope)
    except ValueError:
        return _error("invalid_scope", f"no kill switch scope {command.scope!r}: firm, account, trader or venue"), []
    target = None if scope is Scope.FIRM else command.target
    if not any(s.scope is scope and s.target == target for s in state.kill_switches.engaged()):
        return Outcome("no_change", text=f"no {_name(scope, target)} kill switch is engaged"), []
    released = risk_ev.KillSwitchReleased(STREAM, command.received_at_ns, scope.value, target, command.reason)
    return Outcome("accepted", text=f"{_name(scope, target)} kill switch released"), [released]


def change_limits(state: EngineState, inputs: Inputs, command: cmd.ChangeRiskLimits) -> Decision:
    refusal = _reason_refusal(command.reason)
    if refusal is not None:
        return refusal, []
    if command.account not in inputs.reference.accounts:
        return _error("unknown_account", f"account {command.account!r} is unknown"), []
    if command.symbol is not None and command.symbol not in inputs.reference.instruments:
        return _error("unknown_symbol", f"symbol {command.symbol!r} is not a known instrument"), []
    # What the change starts from: the account's own limits, or its overrides for the symbol.
    account_limits = inputs.reference.limits.get(command.account)
    if account_limits is None:
        own = NO_LIMITS
    elif command.symbol is None:
        own = account_limits.limits
    else:
        own = account_limits.symbols.get(command.symbol, NO_LIMITS)
    current = configuration.limit_values(own)
    changes = []
    try:
        for name, value in command.changes:
            new = configuration.parse_limit(name, value)
            if command.symbol is not None and name not in SYMBOL_LIMITS:
                raise configuration.InvalidChange(f"{name} holds for the whole account, not per symbol")
            if new != current[name]:
                changes.append(
                    risk_ev.SettingChange(name, configuration.text_of(current[name]), configuration.text_of(new))
                )
    except configuration.InvalidChange as invalid:
        return _error("invalid_limit", str(invalid)), []
    if not changes:
        return Outcome("no_change", text="the limits already have these values"), []
    event = risk_ev.RiskLimitsChanged(
        STREAM, command.received_at_ns, command.account, command.symbol, tuple(changes), command.reason
    )
    return Outcome("accepted", text=_changes_text(changes)), [event]


def change_instrument(state: EngineState, inputs: Inputs, command: cmd.ChangeInstrumentRisk) -> Decision:
    refusal = _reason_refusal(command.reason)
    if refusal is not None:
        return refusal, []
    controls = inputs.reference.instrument_controls.get(command.symbol)
    if controls is None:
        return _error("unknown_symbol", f"symbol {command.symbol!r} is not a known instrument"), []
    changes = []
    try:
        for name, value in command.changes:
            new = configuration.parse_instrument_setting(name, value)
            if new != controls[name]:
                changes.append(
                    risk_ev.SettingChange(name, configuration.text_of(controls[name]), configuration.text_of(new))
                )
    except configuration.InvalidChange as invalid:
        return _error("invalid_control", str(invalid)), []
    if not changes:
        return Outcome("no_change", text="the instrument already has these controls"), []
    event = risk_ev.InstrumentRiskChanged(
        STREAM, command.received_at_ns, command.symbol, tuple(changes), command.reason
    )
    return Outcome("accepted", text=_changes_text(changes)), [event]


def sweep(state: EngineState, inputs: Inputs, events: list[Any], at_ns: int) -> list[Any]:
    """After a venue's report: the order it concerns (a child's parent), if a kill switch now halts
    it and it is live with nothing pending, is asked to cancel. What an engage could not cancel (a
    replace was pending, say) is canceled as soon as it can be."""
    if not state.kill_switches.engaged() or not events:
        return []
    touched = {e.order_id for e in events if hasattr(e, "order_id")}
    touched |= {p for o in touched if (p := getattr(state.orders.get(o), "parent_id", None)) is not None}
    out: list[Any] = []
    for order_id in touched:
        order = state.orders.get(order_id)
        if order is None:
            continue
        for event in events:
            if getattr(event, "order_id", None) == order_id:
                order = apply(order, event)
        if order.parent_id is not None or order.is_done or order.pending is not None:
            continue
        if any(isinstance(e, ev.OrderCancelRejected) and e.order_id == order_id for e in events):
            # The venue refused its cancel (it says the order is unknown, say): asking again at once
            # would only loop at round-trip speed. The refusal is on the order for a person.
            continue
        switch = _halting(state, order)
        if switch is not None:
            out += _cancel(state, inputs, order, at_ns, f"KS{state.risk_version}", children_after=events)
    return out


# -- shared -------------------------------------------------------------------------------------


def _halting(state: EngineState, order: OrderState) -> Switch | None:
    for switch in state.kill_switches.engaged():
        if _in_scope(switch, order, state):
            return switch
    return None


def _in_scope(switch: Switch, order: OrderState, state: EngineState) -> bool:
    """Does `switch` halt this top-level order? A venue switch halts a parent with a live child
    there: the parent's instruction cannot be worked as given."""
    match switch.scope:
        case Scope.FIRM:
            return True
        case Scope.ACCOUNT:
            return order.account == switch.target
        case Scope.TRADER:
            return state.traders.get(order.order_id) == switch.target
        case Scope.VENUE:
            if order.venue == switch.target:
                return True
            return any(
                (child := state.orders.get(c)) is not None and child.venue == switch.target and not child.is_done
                for c in order.children
            )
    return False


def _cancel(
    state: EngineState,
    inputs: Inputs,
    order: OrderState,
    at_ns: int,
    prefix: str,
    children_after: list[Any] | None = None,
) -> list[Any]:
    """A cancel request for a live top-level order (its children's too), under a ClOrdID the OMS
    makes; nothing when the order cannot take one now (a request pending)."""
    day = trading_day(at_ns, inputs.zone)
    cl_ord_id, number = f"{prefix}-{order.order_id}", 1
    while (order.account, day, cl_ord_id) in state.cl_ord_ids:
        number += 1
        cl_ord_id = cl_ord_ids.with_suffix(f"{prefix}-{order.order_id}", number)
    command = cmd.CancelOrder("", at_ns, "system", order.account, order.order_id, cl_ord_id, order.cl_ord_id)
    events = decide(order, command)
    if not events or not isinstance(events[0], ev.OrderCancelRequested):
        return []
    if order.is_parent:
        orders = state.orders
        if children_after:
            orders = dict(orders)
            for event in children_after:
                if getattr(event, "order_id", None) in orders:
                    orders[event.order_id] = apply(orders[event.order_id], event)
        return parents.cancel(order, events[0], orders)
    return events


def _scope_refusal(inputs: Inputs, scope: str, target: str | None) -> Outcome | None:
    try:
        parsed = Scope(scope)
    except ValueError:
        return _error("invalid_scope", f"no kill switch scope {scope!r}: firm, account, trader or venue")
    if parsed is Scope.FIRM:
        return None
    if not target:
        return _error("missing_target", f"a {scope} kill switch needs a target ({_TARGETS[parsed]})")
    if parsed is Scope.ACCOUNT and target not in inputs.reference.accounts:
        return _error("unknown_account", f"account {target!r} is unknown")
    if parsed is Scope.VENUE and target not in inputs.reference.all_venues:
        return _error("unknown_venue", f"venue {target!r} is unknown")
    return None


_TARGETS = {Scope.ACCOUNT: "an account code", Scope.TRADER: "a username", Scope.VENUE: "a venue name"}


def _reason_refusal(reason: str) -> Outcome | None:
    if not reason or not reason.strip():
        return _error("missing_reason", "a reason is required: it is recorded with the change")
    return None


def _name(scope: Scope, target: str | None) -> str:
    return "firm" if scope is Scope.FIRM else f"{scope.value} {target}"


def _change(name: str, old: object, new: object) -> risk_ev.SettingChange:
    return risk_ev.SettingChange(name, configuration.text_of(old), configuration.text_of(new))  # type: ignore[arg-type]


def _changes_text(changes: list[risk_ev.SettingChange]) -> str:
    return "; ".join(f"{c.name}: {c.old or 'none'} -> {c.new or 'none'}" for c in changes)


def _error(reason: str, text: str) -> Outcome:
    return Outcome("error", reason=reason, text=text)
