"""Positions: net quantity, average cost and realised P&L per account and symbol, a fold of fills."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .values import Side

ZERO = Decimal(0)
COST_QUANTUM = Decimal("1e-8")


@dataclass(frozen=True, slots=True)
class Position:
    account: str
    symbol: str
    quantity: Decimal = ZERO  # signed: long > 0, short < 0
    avg_cost: Decimal = ZERO  # of the open quantity
    realized_pnl: Decimal = ZERO
    bought: Decimal = ZERO
    sold: Decimal = ZERO


def apply_fill(position: Position, side: Side, quantity: Decimal, price: Decimal) -> Position:
    """Book a fill. Closing quantity realises P&L against the average cost; opening quantity
    (including the far side of a flip from long to short) moves the average cost."""
    signed = quantity * side.sign
    old = position.quantity
    new = old + signed
    bought = position.bought + (quantity if side is Side.BUY else ZERO)
    sold = position.sold + (ZERO if side is Side.BUY else quantity)
    if old == 0 or (old > 0) == (signed > 0):
        # opening or adding: weighted average of the old cost and this price
        avg_cost = (old * position.avg_cost + signed * price) / new
        return Position(
            position.account,
            position.symbol,
            new,
            avg_cost.quantize(COST_QUANTUM),
            position.realized_pnl,
            bought,
            sold,
        )
    closed = min(abs(signed), abs(old))
    direction = 1 if old > 0 else -1
    realized = position.realized_pnl + (price - position.avg_cost) * closed * direction  # exact: inputs have <= 8 dp
    if new == 0:
        avg_cost = ZERO
    elif (new > 0) == (old > 0):
        avg_cost = position.avg_cost  # reduced, not flipped: the rest keeps its cost
    else:
        avg_cost = price  # flipped: the new side opened at this price
    return Position(position.account, position.symbol, new, avg_cost, realized, bought, sold)


def apply_adjustment(position: Position, quantity: Decimal, price: Decimal | None) -> Position:
    """Book a position adjustment (a reconciliation break accepted at the venue's figure): the net
    quantity moves by `quantity` (signed); no trade happened, so bought and sold stay, and no P&L is
    realised (closed quantity leaves at the average cost). Quantity it opens costs `price` (the
    venue's settlement price), or the average cost when there is none."""
    old = position.quantity
    new = old + quantity
    cost = price if price else position.avg_cost
    if new == 0:
        avg_cost = ZERO
    elif old == 0 or (old > 0) != (new > 0):
        avg_cost = cost  # opened, or flipped: the new side stands at the adjustment's cost
    elif abs(new) > abs(old):
        avg_cost = ((old * position.avg_cost + quantity * cost) / new).quantize(COST_QUANTUM)
    else:
        avg_cost = position.avg_cost  # reduced: the rest keeps its cost
    return Position(position.account, position.symbol, new, avg_cost, position.realized_pnl, position.bought,
                    position.sold)  # fmt: skip
