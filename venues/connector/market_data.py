"""Market data: each venue's snapshots (35=W) become the books the router splits by, and
reference prices for the pre-trade checks.

At every logon the connector subscribes (35=V) to BOOK_DEPTH levels a side, and trades, of every
active instrument: the router splits by the liquidity displayed at or better than a limit, not
just at the top. A book goes to Redis as it comes (venues/sessions.py); reference prices go to the
database at most once a second per symbol, whatever the feed's rate.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from decimal import Decimal

import quickfix as fix

from orders.models import Instrument
from venues import sessions
from venues.connector.link import VenueLink
from venues.fix.market_data import market_data_request_message, parse_market_data_snapshot
from venues.fix.messages import getter

log = logging.getLogger("oms.connector")

BOOK_DEPTH = 5
QUOTE_FLUSH_SECONDS = 1.0


class MarketData:
    def __init__(self, stopped: threading.Event) -> None:
        self.stopped = stopped
        self._quotes: dict[str, tuple[Decimal, datetime]] = {}
        self._lock = threading.Lock()

    def subscribe(self, link: VenueLink) -> None:
        symbols = list(Instrument.objects.filter(active=True).values_list("symbol", flat=True))
        if symbols:
            link.send(market_data_request_message(f"md-{link.name}", symbols, market_depth=BOOK_DEPTH))

    def on_snapshot(self, link: VenueLink, message: fix.Message) -> None:
        quote = parse_market_data_snapshot(message.toString())
        if quote is None:
            return
        sessions.publish_book(link.name, quote.symbol, list(quote.bids), list(quote.asks))  # for the router
        if quote.reference_price is None:
            return
        with self._lock:
            self._quotes[quote.symbol] = (quote.reference_price, datetime.now(UTC))

    def on_refused(self, link: VenueLink, message: fix.Message) -> None:
        log.warning("%s: market data request refused: %s", link.name, getter(message)(58))

    def flush_periodically(self) -> None:
        """Reference prices to the database at most once a second per symbol, whatever the feed's rate."""
        while not self.stopped.wait(QUOTE_FLUSH_SECONDS):
            with self._lock:
                quotes, self._quotes = self._quotes, {}
            for symbol, (price, at) in quotes.items():
                Instrument.objects.filter(symbol=symbol).update(reference_price=price, reference_price_at=at)
