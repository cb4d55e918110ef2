"""The FIX translation tables cover every value both ways and agree with FIX 4.4's codes."""

import pytest

from orders.domain.values import ExecType, OrderType, OrdStatus, Side, TimeInForce
from venues.fix import tables as t


@pytest.mark.parametrize(
    ("enum_type", "to_fix", "from_fix"),
    [
        (Side, t.SIDE_TO_FIX, t.SIDE_FROM_FIX),
        (OrderType, t.ORD_TYPE_TO_FIX, t.ORD_TYPE_FROM_FIX),
        (TimeInForce, t.TIF_TO_FIX, t.TIF_FROM_FIX),
        (OrdStatus, t.ORD_STATUS_TO_FIX, t.ORD_STATUS_FROM_FIX),
        (ExecType, t.EXEC_TYPE_TO_FIX, t.EXEC_TYPE_FROM_FIX),
    ],
)
def test_every_value_maps_to_fix_and_back(enum_type, to_fix, from_fix):
    assert set(to_fix) == set(enum_type)
    for member, code in to_fix.items():
        assert from_fix[code] is member
    assert len(set(to_fix.values())) == len(to_fix), "two values share a FIX code"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (OrdStatus.PENDING_NEW, "A"),
        (OrdStatus.PENDING_CANCEL, "6"),
        (OrdStatus.PENDING_REPLACE, "E"),
        (OrdStatus.EXPIRED, "C"),
        (ExecType.TRADE, "F"),
        (ExecType.REPLACED, "5"),
        (Side.SELL_SHORT, "5"),
        (TimeInForce.FOK, "4"),
    ],
)
def test_codes_are_fix_44(value, code):
    # one table per enum: StrEnum members of different enums can compare equal ("new")
    table = {OrdStatus: t.ORD_STATUS_TO_FIX, ExecType: t.EXEC_TYPE_TO_FIX, Side: t.SIDE_TO_FIX,
             TimeInForce: t.TIF_TO_FIX}[type(value)]  # fmt: skip
    assert table[value] == code


def test_fix_42_fill_exec_types_read_as_trade():
    assert t.EXEC_TYPE_FROM_FIX["1"] is ExecType.TRADE and t.EXEC_TYPE_FROM_FIX["2"] is ExecType.TRADE
