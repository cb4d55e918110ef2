"""FIX 4.4 application messages to and from plain values.

Parsers take a `get(tag) -> str | None` so they are testable without a session; builders
return quickfix Messages. Values are mapped through tables.py only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import quickfix as fix

from venues.fix import tables

Get = Callable[[int], "str | None"]

MAX_DIGITS = 24


class FixValueError(ValueError):
    """A field's value the application cannot use; `tag` names the field."""

    def __init__(self, tag: int, text: str) -> None:
        self.tag = tag
        super().__init__(f"tag {tag}: {text}")


def getter(message: fix.Message) -> Get:
    def get(tag: int) -> str | None:
        return message.getField(tag) if message.isSetField(tag) else None

    return get


def required(get: Get, tag: int) -> str:
    value = get(tag)
    if value is None or value == "":
        raise FixValueError(tag, "required field missing")
    return value


def decimal_field(get: Get, tag: int, *, optional: bool = False) -> Decimal | None:
    raw = get(tag) if optional else required(get, tag)
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FixValueError(tag, f"not a number: {raw!r}") from None
    if not value.is_finite() or value <= 0 or len(value.as_tuple().digits) > MAX_DIGITS:
        raise FixValueError(tag, f"must be a positive number, got {raw!r}")
    return value


def mapped(get: Get, tag: int, table: dict, default: str | None = None):
    raw = get(tag) or default
    if raw is None:
        raise FixValueError(tag, "required field missing")
    try:
        return table[raw]
    except KeyError:
        raise FixValueError(tag, f"unsupported value {raw!r}") from None


@dataclass(frozen=True)
class NewOrder:
    cl_ord_id: str
    symbol: str
    side: object
    quantity: Decimal
    order_type: object
    price: Decimal | None
    time_in_force: object
    account: str | None


def parse_new_order(get: Get) -> NewOrder:
    """35=D NewOrderSingle."""
    order_type = mapped(get, 40, tables.ORD_TYPE_FROM_FIX)
    price = decimal_field(get, 44, optional=True)
    return NewOrder(
        cl_ord_id=required(get, 11),
        symbol=required(get, 55),
        side=mapped(get, 54, tables.SIDE_FROM_FIX),
        quantity=decimal_field(get, 38),  # type: ignore[arg-type]
        order_type=order_type,
        price=price,
        time_in_force=mapped(get, 59, tables.TIF_FROM_FIX, default="0"),
        account=get(1),
    )


def new_message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.BeginString("FIX.4.4"))
    message.getHeader().setField(fix.MsgType(msg_type))
    return message


def set_decimal(message: fix.Message, tag: int, value: Decimal) -> None:
    message.setField(tag, format(value.normalize() if value else Decimal(0), "f"))


def group_getters(message: fix.FieldMap, count_tag: int, delimiter: int) -> list[Get]:
    """A repeating group's instances (count `count_tag`, first field `delimiter`), each as a `get`."""
    count = int(message.getField(count_tag)) if message.isSetField(count_tag) else 0
    instances = []
    for index in range(1, count + 1):
        group = fix.Group(count_tag, delimiter)
        message.getGroup(index, group)
        instances.append(getter(group))  # type: ignore[arg-type]
    return instances


def add_group(message: fix.FieldMap, count_tag: int, delimiter: int, values: dict[int, str]) -> None:
    """Append one instance of a repeating group; `values` in the order they go out, delimiter first."""
    group = fix.Group(count_tag, delimiter)
    for tag, value in values.items():
        group.setField(tag, value)
    message.addGroup(group)


def utc_date(at: datetime) -> str:
    """UTCDateOnly (272 MDEntryDate): YYYYMMDD."""
    return at.astimezone(UTC).strftime("%Y%m%d")


def utc_time(at: datetime) -> str:
    """UTCTimeOnly (273 MDEntryTime): HH:MM:SS.sss."""
    return at.astimezone(UTC).strftime("%H:%M:%S.%f")[:12]


# -- market data (35=V in; 35=W, 35=Y out) ---------------------------------------------------------


@dataclass(frozen=True)
class MDEntry:
    """One instance of the 268 NoMDEntries group: 269 type by name, 270 price, 271 size, 272/273 when."""

    entry_type: str  # "bid" | "offer" | "trade"
    price: Decimal
    size: Decimal
    at: datetime


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
            270: _plain(entry.price),
            271: _plain(entry.size),
            272: utc_date(entry.at),
            273: utc_time(entry.at),
        })  # fmt: skip
    return message


def market_data_reject_message(md_req_id: str, reason: str | None, text: str) -> fix.Message:
    """35=Y MarketDataRequestReject: 262, 281 (when a FIX reason fits), 58."""
    message = new_message("Y")
    message.setField(262, md_req_id)
    if reason is not None:
        message.setField(281, tables.MD_REQ_REJ_REASON_TO_FIX[reason])
    message.setField(58, text[:200])
    return message


# -- positions (35=AN in; 35=AP, 35=AO out) --------------------------------------------------------


@dataclass(frozen=True)
class PositionsRequest:
    """35=AN RequestForPositions, as values."""

    pos_req_id: str  # 710
    pos_req_type: str  # 724, as sent
    account: str  # 1
    account_type: str  # 581, as sent
    clearing_business_date: str  # 715, LocalMktDate as sent
    parties: tuple[tuple[tuple[int, str], ...], ...]  # 453 group: (448, 447, 452) per party, as sent


PARTY_TAGS = (448, 447, 452)


def parse_request_for_positions(message: fix.Message) -> PositionsRequest:
    get = getter(message)
    parties = tuple(
        tuple((tag, value) for tag in PARTY_TAGS if (value := party(tag)) is not None)
        for party in group_getters(message, 453, 448)
    )
    return PositionsRequest(
        pos_req_id=required(get, 710),
        pos_req_type=required(get, 724),
        account=required(get, 1),
        account_type=required(get, 581),
        clearing_business_date=required(get, 715),
        parties=parties,
    )


def request_for_positions_message(
    pos_req_id: str,
    account: str,
    clearing_business_date: str,
    *,
    account_type: str = "1",
    pos_req_type: str = tables.POS_REQ_TYPE_POSITIONS,
    parties: tuple[tuple[tuple[int, str], ...], ...] = (),
) -> fix.Message:
    """35=AN RequestForPositions: 710, 724, 453 group, 1, 581, 715, 60."""
    message = new_message("AN")
    message.setField(710, pos_req_id)
    message.setField(724, pos_req_type)
    for party in parties:  # Parties is a required component, but none of its fields is
        add_group(message, 453, 448, dict(party))
    message.setField(1, account)
    message.setField(581, account_type)
    message.setField(715, clearing_business_date)
    message.setField(fix.TransactTime())
    return message


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: Decimal  # net: long positive, short negative
    settl_price: Decimal


def position_report_message(request: PositionsRequest, report_id: str, total: int, position: Position) -> fix.Message:
    """35=AP PositionReport: 721, 710, 724, 727, 728=0, 715, 453 group (echoed), 1, 581, 55, 730,
    731=1, 734=0, and the 702 NoPositions group with one TQ instance: 703, 704 long, 705 short."""
    message = new_message("AP")
    message.setField(721, report_id)
    message.setField(710, request.pos_req_id)
    message.setField(724, request.pos_req_type)
    message.setField(727, str(total))
    message.setField(728, tables.POS_REQ_RESULT_TO_FIX["valid"])
    message.setField(715, request.clearing_business_date)
    _echo_parties(message, request)
    message.setField(1, request.account)
    message.setField(581, request.account_type)
    message.setField(55, position.symbol)
    message.setField(730, _plain(position.settl_price))
    message.setField(731, tables.SETTL_PRICE_TYPE_FINAL)
    message.setField(734, "0")  # 734 PriorSettlPrice: no prior day at a venue that starts fresh
    add_group(message, 702, 703, {
        703: tables.POS_TYPE_TRANSACTION_QUANTITY,
        704: _plain(max(position.quantity, Decimal(0))),
        705: _plain(max(-position.quantity, Decimal(0))),
    })  # fmt: skip
    return message


def positions_ack_message(
    request: PositionsRequest, report_id: str, result: str, status: str, text: str = ""
) -> fix.Message:
    """35=AO RequestForPositionsAck: 721, 710, 727=0, 728, 729, 453 group (echoed), 1, 581, 58."""
    message = new_message("AO")
    message.setField(721, report_id)
    message.setField(710, request.pos_req_id)
    message.setField(727, "0")
    message.setField(728, tables.POS_REQ_RESULT_TO_FIX[result])
    message.setField(729, tables.POS_REQ_STATUS_TO_FIX[status])
    _echo_parties(message, request)
    message.setField(1, request.account)
    message.setField(581, request.account_type)
    if text:
        message.setField(58, text[:200])
    return message


def _echo_parties(message: fix.Message, request: PositionsRequest) -> None:
    for party in request.parties:
        add_group(message, 453, 448, dict(party))


# -- session-independent refusals --------------------------------------------------------------------


def business_reject_message(ref_seq_num: str | None, ref_msg_type: str, reason: str, text: str) -> fix.Message:
    """35=j BusinessMessageReject: 45, 372, 380, 58."""
    message = new_message("j")
    if ref_seq_num:
        message.setField(45, ref_seq_num)
    message.setField(372, ref_msg_type)
    message.setField(380, tables.BUSINESS_REJECT_REASON_TO_FIX[reason])
    message.setField(58, text[:200])
    return message


def _plain(value: Decimal) -> str:
    return format(value.normalize() if value else Decimal(0), "f")
