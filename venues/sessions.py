"""Each venue session's state and displayed books, as the connector last saw them: in Redis with a TTL.

The connector refreshes it every second; the engine reads it to fail closed (no new orders
to a venue whose session is not logged on) and the health endpoint shows it. A connector
that dies stops refreshing, so its sessions read as "unknown" within SESSION_TTL_SECONDS.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from orders import bus
from venues.domain.router import Level, VenueBook

SESSION_TTL_SECONDS = 3
LOGGED_ON = "logged_on"


def _key(venue: str) -> str:
    return bus.key(f"venue:{venue}:session")


def publish(venue: str, state: str, detail: str = "") -> None:
    payload = {"state": state, "detail": detail, "at_ns": time.time_ns()}
    bus.client().set(_key(venue), json.dumps(payload), ex=SESSION_TTL_SECONDS)


def read(venues: list[str]) -> dict[str, dict[str, Any]]:
    """venue -> {"state", "detail", "at_ns"}; a venue nobody reports on is {"state": "unknown"}."""
    if not venues:
        return {}
    raw = bus.client().mget([_key(v) for v in venues])
    return {
        venue: json.loads(value) if value else {"state": "unknown", "detail": "no connector is reporting on it"}
        for venue, value in zip(venues, raw)
    }


def refusal(venue: str, session: dict[str, Any]) -> str | None:
    """Why orders cannot go to this venue now, or None when its session is logged on."""
    if session.get("state") == LOGGED_ON:
        return None
    detail = session.get("detail") or session.get("state", "unknown")
    return f"venue {venue} is not connected ({detail})"


# A venue sends a book only when it changes, so a quiet book stays true for as long as the session
# is up; the router only looks at venues whose session is up. The TTL just clears books nobody
# has refreshed for a long time (a venue taken out of service).
BOOK_TTL_SECONDS = 3600


def _book_key(venue: str, symbol: str) -> str:
    return bus.key(f"venue:{venue}:book:{symbol}")


def publish_book(
    venue: str, symbol: str, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
) -> None:
    """The venue's displayed levels (price, size), best first, as its market data last showed them."""
    payload = {
        "bids": [[str(p), str(q)] for p, q in bids],
        "asks": [[str(p), str(q)] for p, q in asks],
        "at_ns": time.time_ns(),
    }
    bus.client().set(_book_key(venue, symbol), json.dumps(payload), ex=BOOK_TTL_SECONDS)


def read_books(venues: list[str], symbol: str) -> dict[str, VenueBook]:
    """Each venue's displayed book for `symbol`; a venue without a fresh one is left out."""
    raw = bus.client().mget([_book_key(v, symbol) for v in venues])
    books = {}
    for venue, value in zip(venues, raw):
        if value:
            data = json.loads(value)
            books[venue] = VenueBook(
                tuple(Level(Decimal(p), Decimal(q)) for p, q in data["bids"]),
                tuple(Level(Decimal(p), Decimal(q)) for p, q in data["asks"]),
            )
    return books
