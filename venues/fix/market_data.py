"""Market data messages, to and from plain values: 35=V MarketDataRequest, 35=W
MarketDataSnapshotFullRefresh and 35=Y MarketDataRequestReject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import quickfix as fix

from venues.fix import tables
from venues.fix.messages import (
    FixValueError,
    Get,
    add_group,
    group_getters,
    mapped,
    new_message,
    plain,
    required,
    utc_date,
    utc_time,
)

# -- 35=V ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketDataRequest:
    """35=V, as values: 262, 263 as "snapshot" | "subscribe" | "unsubscribe", 264, 265, 267 group, 146 group."""

    md_req_id: str
    subscription: str
    market_depth: int
    update_type: str | None  # 265 as sent, None when absent
    entry_types: tuple[str, ...]  # 269: "bid", "offer", "trade"; a type not served here keeps its FIX code
    symbols: tuple[str, ...]


def parse_market_data_request(message: fix.Message, get: Get) -> MarketDataRequest:
    """35=V: 262, 263, 264, 265, the 267 NoMDEntryTypes group (269) and the 146 NoRelatedSym group (55).
    Raises FixValueError."""
    depth = required(get, 264)
    if not depth.isdigit():
        raise FixValueError(264, f"not a whole number: {depth!r}")
    entry_types = tuple(
        tables.MD_ENTRY_TYPE_FROM_FIX.get(code, code) for entry in group_getters(message, 267, 269)
        if (code := entry(269)) is not None
    )  # fmt: skip
    symbols = tuple(symbol for instrument in group_getters(message, 146, 55) if (symbol := instrument(55)))
    return MarketDataRequest(
        md_req_id=required(get, 262),
        subscription=mapped(get, 263, tables.SUBSCRIPTION_REQUEST_TYPE_FROM_FIX),
        market_depth=int(depth),
        update_type=get(265),
        entry_types=entry_types,
        symbols=symbols,
    )


def market_data_request_message(
    md_req_id: str,
    symbols: list[str],
    *,
    subscription: str = "subscribe",
    entry_types: tuple[str, ...] = ("bid", "offer", "trade"),
    market_depth: int = 1,
) -> fix.Message:
    """35=V MarketDataRequest: 262, 263, 264, 267 group of 269, 146 group of 55."""
    message = new_message("V")
    message.setField(262, md_req_id)
    message.setField(263, tables.SUBSCRIPTION_REQUEST_TYPE_TO_FIX[subscription])
    message.setField(264, str(market_depth))
    for entry_type in entry_types:
        add_group(message, 267, 269, {269: tables.MD_ENTRY_TYPE_TO_FIX.get(entry_type, entry_type)})
    for symbol in symbols:
        add_group(message, 146, 55, {55: symbol})
    return message


# -- 35=W ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MDEntry:
    """One instance of the 268 NoMDEntries group: 269 type by name, 270 price, 271 size, 272/273 when."""

    entry_type: str  # "bid" | "offer" | "trade"
    price: Decimal
    size: Decimal
    at: datetime


def market_data_snapshot_message(md_req_id: str, symbol: str, entries: list[MDEntry]) -> fix.Message:
    """35=W MarketDataSnapshotFullRefresh: 262, 55, and the 268 NoMDEntries group (268=0 when the
    book is empty and nothing traded): 269, 270, 271, 272, 273 per entry."""
    message = new_message("W")
    message.setField(262, md_req_id)
    message.setField(55, symbol)
    if not entries:
        message.setField(268, "0")
    for entry in entries:
        add_group(message, 268, 269, {
            269: tables.MD_ENTRY_TYPE_TO_FIX[entry.entry_type],
            270: plain(entry.price),
            271: plain(entry.size),
            272: utc_date(entry.at),
            273: utc_time(entry.at),
        })  # fmt: skip
    return message


@dataclass(frozen=True)
class Quote:
    """A venue's market data snapshot for one symbol: levels best first, and the last trade."""

    symbol: str
    bids: tuple[tuple[Decimal, Decimal], ...]  # (price, size)
    asks: tuple[tuple[Decimal, Decimal], ...]
    last: Decimal | None

    @property
    def reference_price(self) -> Decimal | None:
        """The last trade if there is one, else the mid of a two-sided quote."""
        if self.last is not None:
            return self.last
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        return None


def parse_market_data_snapshot(raw: str) -> Quote | None:
    """35=W, read from the raw message: the 268 group's entries in order (269 starts one).
    None without a symbol; an entry that is not a positive price and a size is left out."""
    symbol = None
    entries: list[dict[int, str]] = []
    for part in raw.split("\x01"):
        tag, _, value = part.partition("=")
        if not tag.isdigit():
            continue
        number = int(tag)
        if number == 55 and symbol is None:
            symbol = value
        elif number == 269:
            entries.append({269: value})
        elif entries and number in (270, 271):
            entries[-1][number] = value
    if symbol is None:
        return None
    sides: dict[str, list[tuple[Decimal, Decimal]]] = {code: [] for code in tables.MD_ENTRY_TYPE_FROM_FIX}
    for entry in entries:
        try:
            price, size = Decimal(entry.get(270, "")), Decimal(entry.get(271, "0"))
        except InvalidOperation:
            continue
        if entry[269] in sides and price.is_finite() and price > 0 and size.is_finite() and size >= 0:
            sides[entry[269]].append((price, size))
    bid, offer, trade = (tables.MD_ENTRY_TYPE_TO_FIX[name] for name in ("bid", "offer", "trade"))
    bids = tuple(sorted(sides[bid], key=lambda level: -level[0]))
    asks = tuple(sorted(sides[offer], key=lambda level: level[0]))
    last = sides[trade][0][0] if sides[trade] else None
    return Quote(symbol, bids, asks, last)


# -- 35=Y ------------------------------------------------------------------------------------------


def market_data_reject_message(md_req_id: str, reason: str | None, text: str) -> fix.Message:
    """35=Y MarketDataRequestReject: 262, 281 (when a FIX reason fits), 58."""
    message = new_message("Y")
    message.setField(262, md_req_id)
    if reason is not None:
        message.setField(281, tables.MD_REQ_REJ_REASON_TO_FIX[reason])
    message.setField(58, text[:200])
    return message
