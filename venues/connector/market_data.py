"""Market data: each venue's snapshots (35=W) become the books the router splits by and the
reference prices the pre-trade checks use.

At every logon the connector subscribes (35=V) to BOOK_DEPTH levels a side, and trades, of every
active instrument: the router splits by the liquidity displayed at or better than a limit, not
just at the top. Each snapshot goes on the venue feed as it comes (orders/venue_feed.py); the
engine holds the books in memory with their times and derives the reference price from them
(mid of the best bid and ask across venues, else the last trade).
"""

from __future__ import annotations

import logging

import quickfix as fix

from orders import venue_feed
from orders.models import Instrument
from venues.connector.link import VenueLink
from venues.fix.market_data import market_data_request_message, parse_market_data_snapshot
from venues.fix.messages import getter

log = logging.getLogger("oms.connector")

BOOK_DEPTH = 5


class MarketData:
    def subscribe(self, link: VenueLink) -> None:
        symbols = list(Instrument.objects.filter(active=True).values_list("symbol", flat=True))
        if symbols:
            link.send(market_data_request_message(f"md-{link.name}", symbols, market_depth=BOOK_DEPTH))

    def on_snapshot(self, link: VenueLink, message: fix.Message) -> None:
        quote = parse_market_data_snapshot(message.toString())
        if quote is None:
            return
        venue_feed.publish_book(link.name, quote.symbol, list(quote.bids), list(quote.asks), quote.last)

    def on_refused(self, link: VenueLink, message: fix.Message) -> None:
        log.warning("%s: market data request refused: %s", link.name, getter(message)(58))
