"""What the venue connector tells the rest of the OMS about the venues: each session's state and
each venue's displayed book and last trade. The engine decides on them (fail closed, route, price
bands); health, admin and the API show them.

Two forms in Redis, written together in one round trip:
- keys with a TTL, the latest of each (health and admin read them; the engine starts from them);
- a stream of every update (FEED_STREAM), which the engine reads between its batches, so it holds
  the venues' state in memory with the time of each update and never reads Redis mid-decision.

The connector refreshes each session's state every second. One that dies stops refreshing: its
keys expire within SESSION_TTL_SECONDS and the engine, seeing no update for as long, stops
trusting what it last heard (orders/engine/market.py).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from orders import bus
from orders.domain.router import Level, VenueBook

SESSION_TTL_SECONDS = 3
LOGGED_ON = "logged_on"
FEED_STREAM = "venues:feed"
FEED_MAXLEN = 100_000  # a few minutes of updates: the engine reads them within a batch

# A venue sends a book only when it changes, so a quiet book stays true for as long as the session
# is up; the router only looks at venues whose session is up. The TTL just clears books nobody
# has refreshed for a long time (a venue taken out of service).
BOOK_TTL_SECONDS = 3600


def _key(venue: str) -> str:
    return bus.key(f"venue:{venue}:session")


def _book_key(venue: str, symbol: str) -> str:
    return bus.key(f"venue:{venue}:book:{symbol}")


def feed_stream() -> str:
    return bus.key(FEED_STREAM)


def publish(venue: str, state: str, detail: str = "", since_ns: int | None = None) -> None:
    """`since_ns`: when the session logged on; the books it sent before are the last session's."""
    payload = json.dumps(
        {"venue": venue, "state": state, "detail": detail, "at_ns": time.time_ns(), "since_ns": since_ns}
    )
    pipe = bus.client().pipeline(transaction=False)
    pipe.set(_key(venue), payload, ex=SESSION_TTL_SECONDS)
    pipe.xadd(feed_stream(), {"session": payload}, maxlen=FEED_MAXLEN, approximate=True)
    pipe.execute()


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


def publish_book(
    venue: str,
    symbol: str,
    bids: list[tuple[Decimal, Decimal]],
    asks: list[tuple[Decimal, Decimal]],
    last: Decimal | None = None,
) -> None:
    """The venue's displayed levels (price, size), best first, and its last trade, as its market
    data last showed them."""
    payload = json.dumps({
        "venue": venue,
        "symbol": symbol,
        "bids": [[str(p), str(q)] for p, q in bids],
        "asks": [[str(p), str(q)] for p, q in asks],
        "last": None if last is None else str(last),
        "at_ns": time.time_ns(),
    })  # fmt: skip
    pipe = bus.client().pipeline(transaction=False)
    pipe.set(_book_key(venue, symbol), payload, ex=BOOK_TTL_SECONDS)
    pipe.xadd(feed_stream(), {"book": payload}, maxlen=FEED_MAXLEN, approximate=True)
    pipe.execute()


def book_from_payload(data: dict[str, Any]) -> VenueBook:
    return VenueBook(
        tuple(Level(Decimal(p), Decimal(q)) for p, q in data["bids"]),
        tuple(Level(Decimal(p), Decimal(q)) for p, q in data["asks"]),
    )


def read_books(venues: list[str], symbol: str) -> dict[str, VenueBook]:
    """Each venue's displayed book for `symbol`; a venue without one is left out."""
    raw = bus.client().mget([_book_key(v, symbol) for v in venues])
    return {venue: book_from_payload(json.loads(value)) for venue, value in zip(venues, raw) if value}


def snapshot() -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """(the feed's last entry id, every session payload, every book payload): where the engine
    starts from. The id is taken first, so an update between the two reads is read again from the
    stream rather than missed."""
    client = bus.client()
    newest = client.xrevrange(feed_stream(), count=1)
    last_id = newest[0][0] if newest else "0-0"
    sessions = [json.loads(v) for v in _values(client, bus.key("venue:*:session"))]
    books = [json.loads(v) for v in _values(client, bus.key("venue:*:book:*"))]
    return last_id, sessions, books


def _values(client: Any, pattern: str) -> list[Any]:
    keys = list(client.scan_iter(pattern, count=1000))
    return [v for v in client.mget(keys) if v] if keys else []


def read_updates(after_id: str, count: int = 10_000) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """Updates after `after_id`, without waiting: (the last id read, [("session"|"book", payload)])."""
    response = bus.client().xread({feed_stream(): after_id}, count=count)
    if not response:
        return after_id, []
    updates = []
    last_id = after_id
    for entry_id, fields in response[0][1]:
        last_id = entry_id
        updates.extend((kind, json.loads(value)) for kind, value in fields.items())
    return last_id, updates
