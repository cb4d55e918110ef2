"""Position messages, to and from plain values: 35=AN RequestForPositions, 35=AP PositionReport
and 35=AO RequestForPositionsAck."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import quickfix as fix

from venues.fix import tables
from venues.fix.messages import add_group, getter, group_getters, new_message, plain, required

PARTY_TAGS = (448, 447, 452)


# -- 35=AN -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionsRequest:
    """35=AN RequestForPositions, as values."""

    pos_req_id: str  # 710
    pos_req_type: str  # 724, as sent
    account: str  # 1
    account_type: str  # 581, as sent
    clearing_business_date: str  # 715, LocalMktDate as sent
    parties: tuple[tuple[tuple[int, str], ...], ...]  # 453 group: (448, 447, 452) per party, as sent


def parse_request_for_positions(message: fix.Message) -> PositionsRequest:
    """Raises FixValueError."""
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


# -- 35=AP, 35=AO ----------------------------------------------------------------------------------


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
    message.setField(730, plain(position.settl_price))
    message.setField(731, tables.SETTL_PRICE_TYPE_FINAL)
    message.setField(734, "0")  # 734 PriorSettlPrice: no prior day at a venue that starts fresh
    add_group(message, 702, 703, {
        703: tables.POS_TYPE_TRANSACTION_QUANTITY,
        704: plain(max(position.quantity, Decimal(0))),
        705: plain(max(-position.quantity, Decimal(0))),
    })  # fmt: skip
    return message


@dataclass(frozen=True)
class PositionReport:
    """35=AP as the requester reads it, each field as sent (None when absent)."""

    pos_req_id: str | None  # 710
    total_reports: str | None  # 727 TotalNumPosReports
    symbol: str | None  # 55
    long_qty: str | None  # 704 of the first 702 NoPositions instance
    short_qty: str | None  # 705 of it


def parse_position_report(message: fix.Message) -> PositionReport:
    get = getter(message)
    positions = group_getters(message, 702, 703)
    first = positions[0] if positions else None
    return PositionReport(
        pos_req_id=get(710),
        total_reports=get(727),
        symbol=get(55),
        long_qty=first(704) if first else None,
        short_qty=first(705) if first else None,
    )


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
