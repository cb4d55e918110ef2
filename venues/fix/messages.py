"""FIX 4.4 plumbing every message module here shares: reading fields, building messages, groups.

The messages themselves live by subject: `orders.py` (35=D, F, G, H out; 35=8, 9 back),
`market_data.py` (35=V, W, Y) and `positions.py` (35=AN, AP, AO). Parsers take a
`get(tag) -> str | None` (or a Message, for repeating groups) so they are testable without a
session, and return plain values; builders return quickfix Messages. Values are mapped
through tables.py only.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """A positive number, strictly: what a request must carry (raises FixValueError)."""
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


def lenient_decimal(get: Get, tag: int) -> Decimal | None:
    """A number as a report carries it, or None when it is absent or unreadable: a report is
    read for what it can tell, never refused."""
    raw = get(tag)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def mapped(get: Get, tag: int, table: dict, default: str | None = None):
    raw = get(tag) or default
    if raw is None:
        raise FixValueError(tag, "required field missing")
    try:
        return table[raw]
    except KeyError:
        raise FixValueError(tag, f"unsupported value {raw!r}") from None


def new_message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.BeginString("FIX.4.4"))
    message.getHeader().setField(fix.MsgType(msg_type))
    return message


def plain(value: Decimal | None) -> str:
    """A decimal as FIX writes it: no exponent, no trailing zeros; 0 for None."""
    return format(value.normalize() if value else Decimal(0), "f")


def set_decimal(message: fix.Message, tag: int, value: Decimal | None) -> None:
    message.setField(tag, plain(value))


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
