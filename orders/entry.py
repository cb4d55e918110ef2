"""Order-entry rules: what every edge (REST, the client FIX gateway) checks on a
request before it becomes an engine command, so a client hears early, naming the field, what
the engine would refuse anyway. The engine checks everything again (`risk/domain/checks.py`).

Plain functions over plain values. Each rule returns a `Problem` or None; `submit_problems`,
`cancel_problems` and `replace_problems` run them all in the order REST reports them. Reading
the database is the caller's: whether a symbol is known, a venue active and the account may be
traded come in as predicates (`Lookups`). Who may trade an account is the edge's to say: REST
asks the user's grants, the FIX gateway the session's accounts.

Parsing the wire (strings to Decimal, enum names, lengths) stays with each edge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from orders.domain.values import OrderType, Strategy

# FIX ClOrdID (11) is a string; printable ASCII without spaces keeps it safe on every wire.
CL_ORD_ID = re.compile(r"[\x21-\x7e]{1,64}")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request."""

    field: str | None  # the request's field as REST names it ("routing.venue" inside routing); None: the whole
    reason: str  # machine-readable, snake case; the engine's name where it has one ("invalid_quantity")
    text: str  # for people, as the REST API has always said it


@dataclass(frozen=True, slots=True)
class Lookups:
    """What the rules may ask about the world. Each is cheap to call once per request."""

    symbol_known: Callable[[str], bool]
    venue_active: Callable[[str], bool]
    may_trade: Callable[[str], bool]  # the edge's permission: the user's grants, the session's accounts
    grantee: str = "you"  # whom an account is not granted to, as its refusal says: "session CLIENT1"


@dataclass(frozen=True, slots=True)
class Routing:
    """A parent order's routing instruction, as REST's `routing` object gives it."""

    strategy: str  # a Strategy value
    venue: str | None = None
    venues: Sequence[str] | None = None
    slices: int | None = None


# Each field's own rules.


def cl_ord_id_problem(value: str, field: str = "cl_ord_id") -> Problem | None:
    if not CL_ORD_ID.fullmatch(value):  # fullmatch: "$" would let a trailing newline through
        return Problem(field, "invalid_cl_ord_id", f"{field} must be 1 to 64 printable ASCII characters without spaces")
    return None


def _positive(field: str, reason: str, value: Decimal) -> Problem | None:
    if not value.is_finite() or value <= 0:
        return Problem(field, reason, f"{field} must be positive, got {value.normalize():f}")
    return None


def quantity_problem(value: Decimal) -> Problem | None:
    return _positive("quantity", "invalid_quantity", value)


def limit_price_problem(value: Decimal | None) -> Problem | None:
    return None if value is None else _positive("limit_price", "invalid_price", value)


def account_problem(account: str, may_trade: Callable[[str], bool], grantee: str = "you") -> Problem | None:
    if not may_trade(account):
        text = f"account {account!r} is unknown, inactive or not granted to {grantee}"
        return Problem("account", "account_not_allowed", text)
    return None


def symbol_problem(symbol: str, symbol_known: Callable[[str], bool]) -> Problem | None:
    if not symbol_known(symbol):
        return Problem("symbol", "unknown_symbol", f"unknown symbol {symbol!r}")
    return None


def venue_problem(venue: str | None, venue_active: Callable[[str], bool], field: str = "venue") -> Problem | None:
    if venue is not None and not venue_active(venue):
        return Problem(field, "unknown_venue", f"unknown or inactive venue {venue!r}")
    return None


def venues_problem(venues: Sequence[str], venue_active: Callable[[str], bool], field: str = "venues") -> Problem | None:
    unknown = [v for v in venues if not venue_active(v)]
    if unknown:
        return Problem(field, "unknown_venue", f"unknown or inactive venue(s): {', '.join(map(repr, unknown))}")
    return None


# Rules across fields: checked once every field is fine on its own.


def routing_problem(routing: Routing) -> Problem | None:
    """The instruction's fields agree with its strategy. Fields are named inside `routing`."""
    strategy = routing.strategy
    if strategy == Strategy.DIRECT:
        if not routing.venue:
            return Problem("venue", "missing_venue", "a direct route names its venue")
        if routing.venues and routing.venue not in routing.venues:
            return Problem("venues", "venue_not_in_venues", f"venue {routing.venue!r} is not among them")
    elif routing.venue:
        return Problem("venue", "unexpected_venue", f"only a direct route names one venue; {strategy} takes venues")
    if strategy == Strategy.SLICES and not routing.slices:
        return Problem("slices", "missing_slices", "say how many slices")
    if strategy != Strategy.SLICES and routing.slices is not None:
        return Problem("slices", "unexpected_slices", f"slices are for the slices strategy, not {strategy}")
    return None


def order_problem(*, order_type: str, limit_price: Decimal | None, venue: str | None, routed: bool) -> Problem | None:
    """A limit price exactly when the type takes one; a routed order's venue inside its routing."""
    if order_type == OrderType.LIMIT and limit_price is None:
        return Problem("limit_price", "missing_limit_price", "a limit order needs a limit_price")
    if order_type == OrderType.MARKET and limit_price is not None:
        return Problem("limit_price", "price_on_market_order", "a market order takes no limit_price")
    if routed and venue:
        return Problem("venue", "venue_beside_routing", "give the venue in routing, not beside it")
    return None


def replace_problem(*, quantity: Decimal | None, limit_price: Decimal | None) -> Problem | None:
    if quantity is None and limit_price is None:
        return Problem(None, "nothing_to_replace", "give quantity and/or limit_price to replace")
    return None


# A whole request: every field's problems; the first rule across fields only when there are none,
# as REST reports them.


def _found(*problems: Problem | None) -> list[Problem]:
    return [p for p in problems if p is not None]


def _inside_routing(problem: Problem) -> Problem:
    return Problem(f"routing.{problem.field}", problem.reason, problem.text)


def routing_problems(routing: Routing, venue_active: Callable[[str], bool]) -> list[Problem]:
    """Named inside `routing` ("venue", not "routing.venue")."""
    found = _found(
        venue_problem(routing.venue, venue_active),
        venues_problem(routing.venues, venue_active) if routing.venues else None,
    )
    return found or _found(routing_problem(routing))


def submit_problems(
    *,
    account: str,
    cl_ord_id: str,
    symbol: str,
    quantity: Decimal,
    order_type: str,
    limit_price: Decimal | None,
    venue: str | None = None,
    routing: Routing | None = None,
    lookups: Lookups,
) -> list[Problem]:
    """A new order's problems (FIX 35=D, REST POST /orders/); empty when it may go to the engine."""
    found = _found(
        account_problem(account, lookups.may_trade, lookups.grantee),
        cl_ord_id_problem(cl_ord_id),
        symbol_problem(symbol, lookups.symbol_known),
        quantity_problem(quantity),
        limit_price_problem(limit_price),
        venue_problem(venue, lookups.venue_active),
    )
    if routing is not None:
        found += [_inside_routing(p) for p in routing_problems(routing, lookups.venue_active)]
    return found or _found(
        order_problem(order_type=order_type, limit_price=limit_price, venue=venue, routed=routing is not None)
    )


def cancel_problems(*, cl_ord_id: str | None) -> list[Problem]:
    """A cancel request's problems (FIX 35=F); its ClOrdID is generated when not given."""
    return _found(cl_ord_id_problem(cl_ord_id) if cl_ord_id is not None else None)


def replace_problems(*, quantity: Decimal | None, limit_price: Decimal | None, cl_ord_id: str | None) -> list[Problem]:
    """A cancel/replace request's problems (FIX 35=G): a new quantity and/or limit price."""
    found = _found(
        quantity_problem(quantity) if quantity is not None else None,
        limit_price_problem(limit_price),
        cl_ord_id_problem(cl_ord_id) if cl_ord_id is not None else None,
    )
    return found or _found(replace_problem(quantity=quantity, limit_price=limit_price))
