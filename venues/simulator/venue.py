"""A simulated venue, pure Python: order books per instrument, order identity per session,
and the reports a venue owes its sessions. The FIX acceptor (fix_app.py) only translates.

Sessions are `owners`: a FIX session's id, or a built-in liquidity participant. Every change
to an owner's order produces an `ExecReport` (or a `CancelReject`) addressed to that owner;
both sides of a trade get theirs. A ClOrdID is accepted once per owner: a repeated one is
refused with reason "duplicate_cl_ord_id" and never executed twice.

The venue also keeps what its market data and position reports show: the last trade per
symbol (any trade in its books: makers, takers and FIX sessions alike) and each owner's net
position per symbol, in total and per account (1 Account on the order; "" when it named none).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from orders.domain.values import ExecType, OrdStatus
from venues.simulator.book import BookOrder, OrderBook, Outcome, Side, TimeInForce

ZERO = Decimal(0)


@dataclass(frozen=True)
class InstrumentSpec:
    symbol: str
    tick_size: Decimal
    lot_size: Decimal


@dataclass(frozen=True)
class ExecReport:
    owner: str
    order_id: str  # 37 OrderID (the venue's)
    cl_ord_id: str  # 11
    orig_cl_ord_id: str | None  # 41, on cancel/replace answers
    exec_id: str  # 17
    exec_type: ExecType  # 150
    ord_status: OrdStatus  # 39
    symbol: str
    side: Side
    order_qty: Decimal  # 38
    price: Decimal | None  # 44
    last_qty: Decimal  # 32
    last_px: Decimal  # 31
    cum_qty: Decimal  # 14
    leaves_qty: Decimal  # 151
    avg_px: Decimal  # 6
    text: str = ""  # 58
    reject_reason: str = (
        ""  # 103 OrdRejReason by name (venues/fix/tables.py): "duplicate_cl_ord_id", "unknown_order"...
    )
    exec_ref_id: str = ""  # 19 ExecRefID: the fill a trade cancel (150=H) names
    account: str = ""  # 1 Account, as the order named it


@dataclass(frozen=True)
class CancelReject:
    owner: str
    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str
    ord_status: OrdStatus
    response_to: str  # "cancel" | "replace" (434)
    reason: str  # 102 CxlRejReason by name: "too_late" | "unknown_order" | "duplicate_cl_ord_id" | "other"
    text: str


Report = ExecReport | CancelReject


@dataclass(frozen=True)
class MassCancel:
    """What an order mass cancel did: a Canceled report per order, or why it did nothing."""

    owner: str
    mass_id: str  # 37 OrderID the venue gives the mass cancel itself
    cl_ord_id: str  # 11, the request's
    canceled: list[ExecReport]
    reject_reason: str | None = None  # 532 MassCancelRejectReason by name; None: done
    text: str = ""


@dataclass(frozen=True)
class LastTrade:
    price: Decimal
    quantity: Decimal
    at: datetime  # UTC
    sequence: int  # the venue's trade count: tells two equal trades apart


class Venue:
    def __init__(
        self, name: str, instruments: list[InstrumentSpec], clock: Callable[[], datetime] | None = None
    ) -> None:
        self.name = name
        self.clock = clock or (lambda: datetime.now(UTC))
        self.instruments = {i.symbol: i for i in instruments}
        self.books = {i.symbol: OrderBook(i.symbol) for i in instruments}
        self._order_ids = itertools.count(1)
        self._exec_ids = itertools.count(1)
        self._orders: dict[str, tuple[BookOrder, str]] = {}  # venue order id -> (order, symbol)
        self._by_cl_ord_id: dict[tuple[str, str], str] = {}  # (owner, ClOrdID) -> venue order id
        self._seen: set[tuple[str, str]] = set()  # every ClOrdID an owner ever used here
        self.positions: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        # (owner, account) -> symbol -> net quantity: what a RequestForPositions for an account reports
        self.account_positions: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.last_trades: dict[str, LastTrade] = {}
        self._trade_count = 0

    # -- requests ----------------------------------------------------------------------------

    def new_order(
        self,
        owner: str,
        cl_ord_id: str,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal | None,
        time_in_force: TimeInForce,
        account: str = "",
    ) -> list[Report]:
        refusal = self._refusal(owner, cl_ord_id, symbol, quantity, price)
        if refusal is not None:
            reason, text = refusal
            existing = self._find(owner, cl_ord_id, live_only=False) if reason == "duplicate_cl_ord_id" else None
            # A duplicate's reject names the order that already has this ClOrdID (37), so a
            # client resending after a crash can ask for its status instead of guessing.
            order_id = existing[0].order_id if existing else f"{self.name}-R{next(self._order_ids)}"
            refused = BookOrder(order_id, owner, cl_ord_id, side, quantity, price, time_in_force, open=False)
            self._seen.add((owner, cl_ord_id))
            return [
                self._report(refused, symbol, ExecType.REJECTED, OrdStatus.REJECTED, text=text, reject_reason=reason)
            ]
        self._seen.add((owner, cl_ord_id))
        order = BookOrder(
            f"{self.name}-{next(self._order_ids)}",
            owner,
            cl_ord_id,
            side,
            quantity,
            price,
            time_in_force,
            account=account,
        )
        self._orders[order.order_id] = (order, symbol)
        self._by_cl_ord_id[(owner, cl_ord_id)] = order.order_id
        reports: list[Report] = [self._report(order, symbol, ExecType.NEW, OrdStatus.NEW)]
        outcome = self.books[symbol].submit(order)
        return reports + self._reports_of(outcome, symbol)

    def cancel(self, owner: str, cl_ord_id: str, orig_cl_ord_id: str) -> list[Report]:
        found = self._find(owner, orig_cl_ord_id)
        refused = self._request_refusal(owner, cl_ord_id, orig_cl_ord_id, found, "cancel")
        if refused is not None:
            return [refused]
        assert found is not None
        order, symbol = found
        self._seen.add((owner, cl_ord_id))
        self.books[symbol].cancel(order.order_id)
        self._relabel(order, cl_ord_id)
        return [self._report(order, symbol, ExecType.CANCELED, OrdStatus.CANCELED, orig_cl_ord_id=orig_cl_ord_id)]

    def mass_cancel(self, owner: str, cl_ord_id: str, symbol: str | None = None) -> MassCancel:
        """Cancel every live order of `owner` (in `symbol` only, when given), no other owner's.
        Each gets a Canceled report under the mass cancel's ClOrdID (11) naming the order's own
        in 41. An order keeps its own ClOrdID: many orders cannot share one, and a later status
        request or cancel by it still finds the order."""
        mass_id = f"{self.name}-M{next(self._order_ids)}"
        if (owner, cl_ord_id) in self._seen:
            return MassCancel(owner, mass_id, cl_ord_id, [], "other", f"ClOrdID {cl_ord_id} was already used")
        self._seen.add((owner, cl_ord_id))
        if symbol is not None and symbol not in self.books:
            return MassCancel(owner, mass_id, cl_ord_id, [], "unknown_security", f"unknown symbol {symbol}")
        books = [self.books[symbol]] if symbol is not None else list(self.books.values())
        live = [(order, book) for book in books for order in book.resting() if order.owner == owner]
        canceled = []
        for order, book in live:
            book.cancel(order.order_id)
            report = self._report(order, book.symbol, ExecType.CANCELED, OrdStatus.CANCELED,
                                  orig_cl_ord_id=order.cl_ord_id)  # fmt: skip
            canceled.append(dataclasses.replace(report, cl_ord_id=cl_ord_id))
        return MassCancel(owner, mass_id, cl_ord_id, canceled)

    def refuse_mass_cancel(self, owner: str, cl_ord_id: str, reason: str, text: str) -> MassCancel:
        """Refuse a mass cancel outright (a request type not served, fault injection): nothing is
        canceled, the ClOrdID counts as used."""
        self._seen.add((owner, cl_ord_id))
        return MassCancel(owner, f"{self.name}-M{next(self._order_ids)}", cl_ord_id, [], reason, text)

    def replace(
        self, owner: str, cl_ord_id: str, orig_cl_ord_id: str, quantity: Decimal, price: Decimal | None
    ) -> list[Report]:
        found = self._find(owner, orig_cl_ord_id)
        refused = self._request_refusal(owner, cl_ord_id, orig_cl_ord_id, found, "replace")
        if refused is not None:
            return [refused]
        assert found is not None
        order, symbol = found
        self._seen.add((owner, cl_ord_id))
        if price is None:
            price = order.price  # 44 absent: the price stays; a replace never makes a limit order a market one
        spec = self.instruments[symbol]
        if quantity % spec.lot_size or (price is not None and (price <= 0 or price % spec.tick_size)):
            return [self._cancel_reject(owner, order, cl_ord_id, orig_cl_ord_id, "replace", "other",
                                        f"quantity {quantity} / price {price} not on the lot / tick grid")]  # fmt: skip
        if quantity <= order.cum_qty:
            return [self._cancel_reject(owner, order, cl_ord_id, orig_cl_ord_id, "replace", "too_late",
                                        "the new quantity is not above what is already filled")]  # fmt: skip
        cum_qty, avg_px = order.cum_qty, order.avg_px
        outcome = self.books[symbol].replace(order.order_id, quantity, price)
        assert outcome is not None
        self._relabel(order, cl_ord_id)
        # The Replaced report shows the order as replaced, before any trade the new terms make.
        replaced = dataclasses.replace(
            self._report(order, symbol, ExecType.REPLACED, OrdStatus.NEW, orig_cl_ord_id=orig_cl_ord_id),
            ord_status=OrdStatus.PARTIALLY_FILLED if cum_qty else OrdStatus.NEW,
            cum_qty=cum_qty,
            leaves_qty=quantity - cum_qty,
            avg_px=avg_px,
        )
        return [replaced, *self._reports_of(outcome, symbol)]

    def status(self, owner: str, cl_ord_id: str) -> ExecReport | None:
        """The answer to an OrderStatusRequest (35=H), or None for an unknown ClOrdID."""
        found = self._find(owner, cl_ord_id, live_only=False)
        if found is None:
            return None
        order, symbol = found
        return self._report(order, symbol, ExecType.ORDER_STATUS, _status_of(order), exec_id="0")

    def unknown_order_status(self, owner: str, cl_ord_id: str, symbol: str, side: Side) -> ExecReport:
        """The answer to an OrderStatusRequest (35=H) for a ClOrdID this owner never used here: an
        OrderStatus report (150=I) of a rejected order (39=8) with OrdRejReason unknown order (103=5).
        Not ExecType=Rejected: that would read as the rejection of a live order."""
        return ExecReport(
            owner, "NONE", cl_ord_id, None, "0", ExecType.ORDER_STATUS, OrdStatus.REJECTED, symbol, side,
            ZERO, None, ZERO, ZERO, ZERO, ZERO, ZERO, text="unknown order", reject_reason="unknown_order",
        )  # fmt: skip

    def reject_new_order(
        self, owner: str, cl_ord_id: str, symbol: str, side: Side, quantity: Decimal, price: Decimal | None, text: str
    ) -> list[Report]:
        """Refuse a NewOrderSingle outright (fault injection): nothing rests, the ClOrdID counts as used."""
        self._seen.add((owner, cl_ord_id))
        refused = BookOrder(f"{self.name}-R{next(self._order_ids)}", owner, cl_ord_id, side, quantity, price,
                            open=False)  # fmt: skip
        return [self._report(refused, symbol, ExecType.REJECTED, OrdStatus.REJECTED, text=text, reject_reason="other")]

    def refuse_request(self, owner: str, cl_ord_id: str, orig_cl_ord_id: str, kind: str, text: str) -> list[Report]:
        """Refuse a cancel or replace outright (fault injection), naming the order as it stands."""
        self._seen.add((owner, cl_ord_id))
        found = self._find(owner, orig_cl_ord_id, live_only=False)
        if found is None:
            return [CancelReject(owner, "NONE", cl_ord_id, orig_cl_ord_id, OrdStatus.REJECTED, kind, "other", text)]
        return [CancelReject(owner, found[0].order_id, cl_ord_id, orig_cl_ord_id, _status_of(found[0]), kind, "other",
                             text)]  # fmt: skip

    def fill_after_cancel(self, owner: str, cl_ord_id: str) -> list[Report]:
        """Fill what a just canceled order had open, at its price: the fill that raced the cancel
        and lost (fault injection). Call right after `cancel` acknowledged `cl_ord_id`.

        The order's totals and the owner's position take the fill, so a later status request and
        position report agree with it; the book and the tape do not (there is no resting contra)."""
        found = self._find(owner, cl_ord_id, live_only=False)
        if found is None:
            return []
        order, symbol = found
        quantity = order.quantity - order.cum_qty
        if order.open or order.price is None or quantity <= 0:
            return []
        order.cum_qty += quantity
        order.notional += quantity * order.price
        self._book_position(order, symbol, quantity if order.side is Side.BUY else -quantity)
        return [self._report(order, symbol, ExecType.TRADE, OrdStatus.FILLED, last=(quantity, order.price))]

    def bust(self, fill: ExecReport) -> list[Report]:
        """Cancel the trade `fill` reported (fault injection: an exchange's erroneous-trade bust,
        150=H naming it in 19). Only a fill that completed its order: the order and the owner's
        position lose it, and the order is not reinstated (39=4; what is bought back stays so)."""
        found = self._orders.get(fill.order_id)
        if found is None or fill.exec_type is not ExecType.TRADE or fill.ord_status is not OrdStatus.FILLED:
            return []
        order, symbol = found
        if order.open:
            return []
        order.cum_qty -= fill.last_qty
        order.notional -= fill.last_qty * fill.last_px
        self._book_position(order, symbol, -fill.last_qty * (1 if order.side is Side.BUY else -1))
        report = self._report(order, symbol, ExecType.TRADE_CANCEL, OrdStatus.CANCELED, last=(fill.last_qty,
                              fill.last_px), text="trade busted by the venue (fault injection)")  # fmt: skip
        return [dataclasses.replace(report, exec_ref_id=fill.exec_id, leaves_qty=ZERO)]

    def expire_day_orders(self, owners: set[str], text: str = "") -> list[ExecReport]:
        """The close: every resting DAY order of these owners (the FIX sessions; the built-in
        participants requote on their own) leaves the book, each with an Expired report (150=C,
        39=C). GTC orders rest on into the next day."""
        reports = []
        for symbol, book in self.books.items():
            for order in list(book.resting()):
                if order.owner in owners and order.time_in_force is TimeInForce.DAY:
                    book.cancel(order.order_id)
                    order.expired = True
                    reports.append(self._report(order, symbol, ExecType.EXPIRED, OrdStatus.EXPIRED, text=text))
        return reports

    def positions_of(self, owner: str, account: str | None = None) -> dict[str, Decimal]:
        """The owner's non-zero net positions here, by symbol (long positive, short negative): in
        total, or in one account."""
        held = self.positions.get(owner, {}) if account is None else self.account_positions.get((owner, account), {})
        return {symbol: qty for symbol, qty in sorted(held.items()) if qty}

    def open_orders(self, owner: str, account: str | None = None) -> list[ExecReport]:
        """An OrderStatus report (150=I) for each open order of `owner` (in `account` only, when
        given), oldest first: the answer to an OrderMassStatusRequest (35=AF)."""
        return [
            self._report(order, symbol, ExecType.ORDER_STATUS, _status_of(order), exec_id="0")
            for order, symbol in self._orders.values()
            if order.owner == owner and order.open and (account is None or order.account == account)
        ]

    def book_unreported_fill(self, owner: str, account: str, symbol: str, quantity: Decimal) -> None:
        """Book `quantity` (signed) to the owner's position in `account` and `symbol` without any
        report (fault injection: a trade the venue's books hold and the session was never told of)."""
        self.positions[owner][symbol] += quantity
        self.account_positions[(owner, account)][symbol] += quantity

    def next_exec_id(self) -> str:
        return f"{self.name}-E{next(self._exec_ids)}"

    # -- internals ---------------------------------------------------------------------------

    def _refusal(self, owner: str, cl_ord_id: str, symbol: str, quantity: Decimal, price: Decimal | None):
        if (owner, cl_ord_id) in self._seen:
            return "duplicate_cl_ord_id", f"ClOrdID {cl_ord_id} was already used on this session"
        spec = self.instruments.get(symbol)
        if spec is None:
            return "unknown_symbol", f"unknown symbol {symbol}"
        if quantity <= 0 or quantity % spec.lot_size:
            return "incorrect_quantity", f"quantity {quantity} is not a positive multiple of {spec.lot_size}"
        if price is not None and (price <= 0 or price % spec.tick_size):
            return "invalid_price", f"price {price} is not on the tick {spec.tick_size}"
        return None

    def _find(self, owner: str, cl_ord_id: str, live_only: bool = True) -> tuple[BookOrder, str] | None:
        order_id = self._by_cl_ord_id.get((owner, cl_ord_id))
        if order_id is None:
            return None
        order, symbol = self._orders[order_id]
        if live_only and not order.open:
            return None
        return order, symbol

    def _request_refusal(self, owner, cl_ord_id, orig_cl_ord_id, found, kind) -> CancelReject | None:
        if (owner, cl_ord_id) in self._seen:
            target = found or self._find(owner, orig_cl_ord_id, live_only=False)
            order_id, status = (target[0].order_id, _status_of(target[0])) if target else ("NONE", OrdStatus.REJECTED)
            return CancelReject(owner, order_id, cl_ord_id, orig_cl_ord_id, status, kind, "duplicate_cl_ord_id",
                                f"ClOrdID {cl_ord_id} was already used")  # fmt: skip
        if found is None:
            known = self._find(owner, orig_cl_ord_id, live_only=False)
            if known is not None:  # it exists but is done: too late
                order, _ = known
                return self._cancel_reject(owner, order, cl_ord_id, orig_cl_ord_id, kind, "too_late",
                                           f"too late to {kind}: the order is {_status_of(order).value}")  # fmt: skip
            return CancelReject(owner, "NONE", cl_ord_id, orig_cl_ord_id, OrdStatus.REJECTED, kind, "unknown_order",
                                f"no live order {orig_cl_ord_id}")  # fmt: skip
        return None

    def _cancel_reject(self, owner, order: BookOrder, cl_ord_id, orig_cl_ord_id, kind, reason, text) -> CancelReject:
        self._seen.add((owner, cl_ord_id))
        return CancelReject(owner, order.order_id, cl_ord_id, orig_cl_ord_id, _status_of(order), kind, reason, text)

    def _book_position(self, order: BookOrder, symbol: str, quantity: Decimal) -> None:
        self.positions[order.owner][symbol] += quantity
        self.account_positions[(order.owner, order.account)][symbol] += quantity

    def _relabel(self, order: BookOrder, cl_ord_id: str) -> None:
        """A cancel or replace gives the order the request's ClOrdID (FIX); the old one still finds it."""
        order.cl_ord_id = cl_ord_id
        self._by_cl_ord_id[(order.owner, cl_ord_id)] = order.order_id

    def _reports_of(self, outcome: Outcome, symbol: str) -> list[Report]:
        reports: list[Report] = []
        for trade in outcome.trades:
            self._trade_count += 1
            self.last_trades[symbol] = LastTrade(trade.price, trade.quantity, self.clock(), self._trade_count)
            for fill in (trade.aggressor_fill, trade.resting_fill):
                order = fill.order
                self._book_position(order, symbol, trade.quantity * (1 if order.side is Side.BUY else -1))
                # The order's totals as of this fill, not as of the end of the match.
                status = OrdStatus.FILLED if fill.leaves_qty == 0 else OrdStatus.PARTIALLY_FILLED
                report = self._report(order, symbol, ExecType.TRADE, status, last=(trade.quantity, trade.price))
                reports.append(
                    dataclasses.replace(report, cum_qty=fill.cum_qty, leaves_qty=fill.leaves_qty, avg_px=fill.avg_px)
                )
        if outcome.expired:
            reports.append(self._report(outcome.order, symbol, ExecType.EXPIRED, OrdStatus.EXPIRED))
        return reports

    def _report(
        self,
        order: BookOrder,
        symbol: str,
        exec_type: ExecType,
        ord_status: OrdStatus,
        *,
        last: tuple[Decimal, Decimal] = (ZERO, ZERO),
        orig_cl_ord_id: str | None = None,
        text: str = "",
        reject_reason: str = "",
        exec_id: str | None = None,
    ) -> ExecReport:
        return ExecReport(
            owner=order.owner,
            order_id=order.order_id,
            cl_ord_id=order.cl_ord_id,
            orig_cl_ord_id=orig_cl_ord_id,
            exec_id=exec_id or self.next_exec_id(),
            exec_type=exec_type,
            ord_status=ord_status,
            symbol=symbol,
            side=order.side,
            order_qty=order.quantity,
            price=order.price,
            last_qty=last[0],
            last_px=last[1],
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            avg_px=order.avg_px,
            text=text,
            reject_reason=reject_reason,
            account=order.account,
        )


def _status_of(order: BookOrder) -> OrdStatus:
    if order.cum_qty >= order.quantity:
        return OrdStatus.FILLED
    if order.open:
        return OrdStatus.PARTIALLY_FILLED if order.cum_qty else OrdStatus.NEW
    if order.expired:
        return OrdStatus.EXPIRED
    return OrdStatus.CANCELED if order.price is not None and order.time_in_force in (
        TimeInForce.DAY, TimeInForce.GTC) else OrdStatus.EXPIRED  # fmt: skip
