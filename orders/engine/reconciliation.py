"""Reconciliation commands: a run's findings at a venue, and a person's resolution of a break.
Pure, like the other handlers; the decisions themselves are reconciliation/domain/breaks.py's.
Nobody is checked here for the right to resolve: the edges (REST, admin) check the role."""

from __future__ import annotations

from orders.domain import commands as cmd
from orders.engine.decisions import Decision, Inputs, Outcome
from orders.engine.state import EngineState
from reconciliation.domain import breaks as recon
from reconciliation.domain import events as rev


def record(state: EngineState, inputs: Inputs, command: cmd.RecordReconciliation) -> Decision:
    events = recon.decide_run(
        state.breaks, venue=command.venue, accounts=command.accounts, orders_checked=command.orders_checked,
        differences=command.differences, at_ns=command.received_at_ns, run_id=command.run_id,
    )  # fmt: skip
    if not events:
        return Outcome("no_change", text=_summary(command, events)), []
    return Outcome("accepted", text=_summary(command, events)), events


def resolve(state: EngineState, inputs: Inputs, command: cmd.ResolveReconciliationBreak) -> Decision:
    try:
        events = recon.decide_resolution(
            state.breaks, break_id=command.break_id, resolution=command.resolution, reason=command.reason,
            at_ns=command.received_at_ns,
        )  # fmt: skip
    except recon.BreakRefused as refused:
        return Outcome("error", reason=refused.reason, text=refused.text), []
    resolved = recon.RESOLUTIONS[command.resolution]
    adjusted = [e for e in events if isinstance(e, rev.PositionAdjusted)]
    text = f"break {command.break_id} {resolved}"
    if adjusted:
        a = adjusted[0]
        text += f"; {a.venue} {a.account} {a.symbol} position adjusted by {format(a.quantity.normalize(), 'f')}"
    return Outcome("accepted", text=text), events


def _summary(command: cmd.RecordReconciliation, events: list[rev.ReconciliationEvent]) -> str:
    opened = sum(isinstance(e, rev.ReconciliationBreak) for e in events)
    cleared = sum(isinstance(e, rev.ReconciliationBreakCleared) for e in events)
    return f"{command.venue}: {len(command.differences)} difference(s); {opened} break(s) opened, {cleared} cleared"
