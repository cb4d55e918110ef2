"""The venues as the engine last heard of them: each session's state and each venue's book and
last trade per symbol, each with the time it was published. Read from the venue feed
(orders/venue_feed.py) between batches, never in the middle of a decision: a decision sees one
consistent picture, and the picture's age is part of what it decides on."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orders import venue_feed
from orders.domain.router import VenueBook
from risk.domain import NO_REFERENCE, Reference, reference_of

log = logging.getLogger("oms.engine")

SESSION_MAX_AGE_NS = venue_feed.SESSION_TTL_SECONDS * 1_000_000_000  # the connector says so every second


@dataclass(frozen=True, slots=True)
class SessionInput:
    state: str
    detail: str
    at_ns: int
    since_ns: int | None = None  # logged on then: a book from before is the last session's, stale


@dataclass(frozen=True, slots=True)
class BookInput:
    book: VenueBook
    last: Decimal | None
    at_ns: int


class MarketInputs:
    def __init__(self) -> None:
        self.sessions: dict[str, SessionInput] = {}
        self.books: dict[str, dict[str, BookInput]] = {}  # symbol -> venue -> its book
        self._feed_id = "0-0"
        # symbol -> (its reference, until when it holds): worked out once, not per order; dropped
        # when a book of the symbol or any session changes, or a session it counted on ages out
        self._references: dict[str, tuple[Reference, int]] = {}

    def start(self) -> None:
        """Everything the feed's keys hold now, then the stream from just before they were read."""
        self.sessions.clear()
        self.books.clear()
        self._references.clear()
        self._feed_id, sessions, books = venue_feed.snapshot()
        for payload in sessions:
            self.apply("session", payload)
        for payload in books:
            self.apply("book", payload)
        self.catch_up()

    def catch_up(self) -> None:
        while True:
            self._feed_id, updates = venue_feed.read_updates(self._feed_id)
            for kind, payload in updates:
                self.apply(kind, payload)
            if len(updates) < 10_000:
                return

    def apply(self, kind: str, payload: dict[str, Any]) -> None:
        try:
            if kind == "session":
                update = SessionInput(payload["state"], payload.get("detail", ""), payload["at_ns"],
                                      payload.get("since_ns"))  # fmt: skip
                known = self.sessions.get(payload["venue"])
                if known is None or known.at_ns <= update.at_ns:
                    self.sessions[payload["venue"]] = update
                    self._references.clear()
            elif kind == "book":
                last = payload.get("last")
                book = BookInput(venue_feed.book_from_payload(payload), None if last is None else Decimal(last),
                                 payload["at_ns"])  # fmt: skip
                venues = self.books.setdefault(payload["symbol"], {})
                known_book = venues.get(payload["venue"])
                if known_book is None or known_book.at_ns <= book.at_ns:
                    venues[payload["venue"]] = book
                    self._references.pop(payload["symbol"], None)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            log.error("ignoring a malformed venue feed update (%s): %r", exc, payload)

    def reference(self, symbol: str, now_ns: int) -> Reference:
        """What the price checks measure `symbol` against at `now_ns` (risk/domain/reference.py),
        from the books of the venues whose session is up. A venue sends its book whenever it
        changes, so while its session is up (the connector says so every second) a quiet book it
        sent in this session is still true: it counts as of the session's last word. A book from
        before the session's logon (the venue was down; its market data may have been refused)
        counts as of its own time, as do all books when no venue is up: they soon read as stale,
        and the checks fail closed."""
        cached = self._references.get(symbol)
        if cached is not None and now_ns <= cached[1]:
            return cached[0]
        books = self.books.get(symbol)
        if not books:
            return NO_REFERENCE
        live = []
        holds_until = now_ns + SESSION_MAX_AGE_NS
        for venue, found in books.items():
            session = self.sessions.get(venue)
            if (
                session is not None
                and session.state == venue_feed.LOGGED_ON
                and (now_ns - session.at_ns <= SESSION_MAX_AGE_NS)
            ):
                live.append((found, max(found.at_ns, session.at_ns)))
                holds_until = min(holds_until, session.at_ns + SESSION_MAX_AGE_NS)
        inputs = live or [(found, found.at_ns) for found in books.values()]
        trades = [(b.last, at) for b, at in inputs if b.last is not None]
        reference = reference_of(
            ((b.book.bids[0].price if b.book.bids else None, b.book.asks[0].price if b.book.asks else None, at)
             for b, at in inputs),
            max(trades, key=lambda t: t[1]) if trades else None,
        )  # fmt: skip
        self._references[symbol] = (reference, holds_until)
        return reference

    def symbols(self) -> list[str]:
        return list(self.books)

    def quote_payload(self, symbol: str, now_ns: int) -> dict[str, Any]:
        """The symbol's reference and its inputs, as orders/references.py publishes them."""
        r = self.reference(symbol, now_ns)
        return {
            "bid": _text(r.bid), "ask": _text(r.ask), "last": _text(r.last),
            "reference": _text(r.price), "source": r.source, "at_ns": r.at_ns,
        }  # fmt: skip

    # -- what decisions read -------------------------------------------------------------

    def session_refusal(self, venue: str, now_ns: int) -> str | None:
        """Why orders cannot go to `venue` now, or None when its session is logged on and the
        connector said so lately."""
        session = self.sessions.get(venue)
        if session is None:
            return f"venue {venue} is not connected (no connector is reporting on it)"
        if now_ns - session.at_ns > SESSION_MAX_AGE_NS:
            age = (now_ns - session.at_ns) / 1e9
            return f"venue {venue} is not connected (no connector has reported on it for {age:.0f}s)"
        return venue_feed.refusal(venue, {"state": session.state, "detail": session.detail})

    def books_for(self, venues: list[str], symbol: str) -> dict[str, VenueBook]:
        books = self.books.get(symbol, {})
        return {v: found.book for v in venues if (found := books.get(v)) is not None}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
