"""FIX 4.4 application messages to and from plain values.

Parsers take a `get(tag) -> str | None` so they are testable without a session; builders
return quickfix Messages. Values are mapped through tables.py only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
