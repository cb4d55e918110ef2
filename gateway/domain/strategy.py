"""A parent order over FIX: 848 TargetStrategyParameters carries the routing instruction REST
takes as its `routing` object, as `key=value` pairs separated by `;`:

    strategy=split                       across the connected venues by displayed liquidity
    strategy=split;venues=SIMA,SIMB      only across these
    strategy=slices;slices=4             four equal children over the connected venues
    strategy=direct;venue=SIMB           one child at SIMB

847 TargetStrategy is not used for it: FIX 4.4 gives it three algorithms of its own (VWAP,
participate, minimise impact) that the router does not offer, and its dictionary refuses others.
Without 848 an order is a plain one, to 100 ExDestination or the default route.

Also: which FIX tag a request's problem is about, so a refusal names it as the client wrote it.
"""

from __future__ import annotations

from orders.domain.values import Strategy
from orders.entry import Routing

KEYS = ("strategy", "venue", "venues", "slices")
MAX_SLICES = 100  # as REST
MAX_VENUES = 20

# orders.entry's field names -> the FIX tag a client would look at
TAGS = {
    "account": "1 Account",
    "cl_ord_id": "11 ClOrdID",
    "symbol": "55 Symbol",
    "quantity": "38 OrderQty",
    "limit_price": "44 Price",
    "venue": "100 ExDestination",
}


def routing_from_fix(text: str) -> Routing:
    """848's instruction; raises ValueError saying what is wrong with it."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, equals, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not value:
            raise ValueError(f"{item!r} is not key=value")
        if key not in KEYS:
            raise ValueError(f"unknown key {key!r} (keys: {', '.join(KEYS)})")
        if key in pairs:
            raise ValueError(f"{key} given twice")
        pairs[key] = value
    if "strategy" not in pairs:
        raise ValueError("say the strategy: strategy=split, slices or direct")
    try:
        strategy = Strategy(pairs["strategy"])
    except ValueError:
        raise ValueError(f"unknown strategy {pairs['strategy']!r} (split, slices or direct)") from None
    slices = None
    if "slices" in pairs:
        if not pairs["slices"].isdigit() or not 1 <= int(pairs["slices"]) <= MAX_SLICES:
            raise ValueError(f"slices must be a whole number from 1 to {MAX_SLICES}")
        slices = int(pairs["slices"])
    venues = None
    if "venues" in pairs:
        venues = tuple(v.strip() for v in pairs["venues"].split(",") if v.strip())
        if not venues or len(venues) > MAX_VENUES:
            raise ValueError(f"venues must name 1 to {MAX_VENUES} venues, separated by commas")
    return Routing(strategy=strategy.value, venue=pairs.get("venue"), venues=venues, slices=slices)


def tag_of(field: str | None) -> str:
    """The FIX tag behind an order-entry field ("routing.venue" is inside 848)."""
    if field is None:
        return "the message"
    if field.startswith("routing."):
        return "848 TargetStrategyParameters"
    return TAGS.get(field, field)
