"""Market data of a simulated venue, pure Python: what a snapshot shows, who subscribed, and when
each subscriber is due another snapshot.

A snapshot (MarketDataSnapshotFullRefresh, 35=W) of a symbol shows its book to the depth asked
for (264 MarketDepth: 1 the top, N levels, 0 the full book up to MAX_DEPTH): each bid and offer
price with the total size resting there, best first, and its last trade once there has been one:
the entry types the subscriber asked for, in that order. A subscription gets a snapshot of
each of its symbols at once, then another whenever what it shows changes, but never two for the
same symbol within `min_interval` (200 ms): changes in between coalesce into the next one, and a
change undone before then sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from venues.fix.market_data import MarketDataRequest
from venues.simulator.book import Side
from venues.simulator.venue import Venue

BID, OFFER, TRADE = "bid", "offer", "trade"
ENTRY_TYPES = (BID, OFFER, TRADE)
MIN_INTERVAL = 0.2  # seconds between two snapshots of one symbol to one subscription
MAX_DEPTH = 10  # price levels a side at most (what 264=0, "full book", gets)


@dataclass(frozen=True)
class Entry:
    """One MDEntry (268 group): 269 type, 270 price, 271 size, 272/273 when."""

    type: str  # BID | OFFER | TRADE
    price: Decimal
    size: Decimal
    at: datetime | None = None  # a trade's time; None: as of the snapshot
    sequence: int = 0  # a trade's number: a new trade at the same price and size is still news


def entries(venue: Venue, symbol: str, types: Iterable[str] = ENTRY_TYPES, depth: int = 1) -> tuple[Entry, ...]:
    """What a snapshot of `symbol` shows now, for the entry `types` asked for, `depth` levels a side
    (0: as deep as MAX_DEPTH). An empty side has no entry."""
    book = venue.books[symbol]
    levels = MAX_DEPTH if depth == 0 else min(depth, MAX_DEPTH)
    found: list[Entry] = []
    for entry_type in types:
        if entry_type in (BID, OFFER):
            for price, size in book.depth(Side.BUY if entry_type == BID else Side.SELL, levels=levels):
                found.append(Entry(entry_type, price, size))
        elif entry_type == TRADE and symbol in venue.last_trades:
            last = venue.last_trades[symbol]
            found.append(Entry(TRADE, last.price, last.quantity, last.at, last.sequence))
    return tuple(found)


def refusal(request: MarketDataRequest, active: bool) -> tuple[str, str] | None:
    """Why a subscribe or snapshot request cannot be served at all, as (281 MDReqRejReason by name,
    58 text); None when it can. `active`: the session already has a live subscription under this
    MDReqID. Unknown symbols are not a reason to refuse the others: see `unknown_symbols`."""
    if not request.symbols:
        return "unknown_symbol", "no symbol requested"
    if request.subscription == "subscribe" and active:
        return "duplicate_md_req_id", f"MDReqID {request.md_req_id} is already subscribed"
    if request.update_type not in (None, "0"):
        return "unsupported_md_update_type", "only full refresh snapshots (265=0) are served"
    unsupported = [t for t in request.entry_types if t not in ENTRY_TYPES]
    if unsupported or not request.entry_types:
        return "unsupported_md_entry_type", f"entry types served: 0 bid, 1 offer, 2 trade; not {unsupported}"
    return None


def unknown_symbols(request: MarketDataRequest, known_symbols: Iterable[str]) -> tuple[str, ...]:
    """The requested symbols not traded here. They get a reject (281=0) of their own; the others
    are served, so a client that asks for everything it knows gets what this venue has."""
    known = set(known_symbols)
    return tuple(s for s in request.symbols if s not in known)


@dataclass(frozen=True)
class Snapshot:
    owner: str
    md_req_id: str
    symbol: str
    entries: tuple[Entry, ...]


@dataclass
class _Subscription:
    owner: str
    md_req_id: str
    symbols: tuple[str, ...]
    types: tuple[str, ...]
    depth: int = 1
    sent: dict[str, tuple[tuple[Entry, ...], float]] = field(default_factory=dict)  # symbol -> (shown, when)


Quote = Callable[[str, tuple[str, ...], int], tuple[Entry, ...]]  # (symbol, entry types, depth) -> entries now


class MarketDataFeed:
    """The venue's subscriptions and what each was last sent. Not thread-safe: the caller holds the
    venue's lock, so a snapshot always shows a book between two whole changes."""

    def __init__(self, min_interval: float = MIN_INTERVAL) -> None:
        self.min_interval = min_interval
        self._subscriptions: dict[tuple[str, str], _Subscription] = {}

    def is_active(self, owner: str, md_req_id: str) -> bool:
        return (owner, md_req_id) in self._subscriptions

    def snapshot(self, request: MarketDataRequest, owner: str, quote: Quote) -> list[Snapshot]:
        """One snapshot per symbol, now, with no subscription (263=0)."""
        types = _types(request)
        return [Snapshot(owner, request.md_req_id, s, quote(s, types, request.market_depth)) for s in request.symbols]

    def subscribe(self, request: MarketDataRequest, owner: str, quote: Quote, now: float) -> list[Snapshot]:
        """Start a subscription (263=1); its first snapshot of each symbol is due at once."""
        subscription = _Subscription(owner, request.md_req_id, request.symbols, _types(request), request.market_depth)
        self._subscriptions[(owner, request.md_req_id)] = subscription
        snapshots = []
        for symbol in subscription.symbols:
            shown = quote(symbol, subscription.types, subscription.depth)
            subscription.sent[symbol] = (shown, now)
            snapshots.append(Snapshot(owner, request.md_req_id, symbol, shown))
        return snapshots

    def unsubscribe(self, owner: str, md_req_id: str) -> bool:
        """End a subscription (263=2); False when there was none under this MDReqID."""
        return self._subscriptions.pop((owner, md_req_id), None) is not None

    def end_session(self, owner: str) -> None:
        """Subscriptions live as long as the FIX session that made them."""
        for key in [k for k in self._subscriptions if k[0] == owner]:
            del self._subscriptions[key]

    def due(self, quote: Quote, now: float) -> list[Snapshot]:
        """The snapshots owed now: symbols whose entries changed since the subscription's last
        snapshot of them, if that was at least `min_interval` ago."""
        snapshots = []
        for subscription in self._subscriptions.values():
            for symbol in subscription.symbols:
                shown, when = subscription.sent[symbol]
                if now - when < self.min_interval:
                    continue
                current = quote(symbol, subscription.types, subscription.depth)
                if current != shown:
                    subscription.sent[symbol] = (current, now)
                    snapshots.append(Snapshot(subscription.owner, subscription.md_req_id, symbol, current))
        return snapshots


def _types(request: MarketDataRequest) -> tuple[str, ...]:
    return tuple(t for t in ENTRY_TYPES if t in request.entry_types)
