"""The FIX translation tables cover every value both ways and agree with FIX 4.4's codes."""

import xml.etree.ElementTree as ET

import pytest

from orders.domain.values import ExecType, OrderType, OrdStatus, Side, TimeInForce
from venues.fix import tables as t
from venues.fix.config import data_dictionary


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
    # ExecType.UNKNOWN stands for a code outside FIX 4.4: it has none of its own.
    assert set(to_fix) == set(enum_type) - {ExecType.UNKNOWN}
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
        (ExecType.DONE_FOR_DAY, "3"),
        (ExecType.TRADE_CANCEL, "H"),
        (ExecType.TRADE_CORRECT, "G"),
        (ExecType.RESTATED, "D"),
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


@pytest.mark.parametrize(
    ("to_fix", "from_fix"),
    [
        (t.ORD_REJ_REASON_TO_FIX, t.ORD_REJ_REASON_FROM_FIX),
        (t.CXL_REJ_REASON_TO_FIX, t.CXL_REJ_REASON_FROM_FIX),
        (t.CXL_REJ_RESPONSE_TO_FIX, t.CXL_REJ_RESPONSE_FROM_FIX),
        (t.MASS_CANCEL_REQUEST_TYPE_TO_FIX, t.MASS_CANCEL_REQUEST_TYPE_FROM_FIX),
        (t.MASS_CANCEL_RESPONSE_TO_FIX, t.MASS_CANCEL_RESPONSE_FROM_FIX),
        (t.MASS_CANCEL_REJECT_REASON_TO_FIX, t.MASS_CANCEL_REJECT_REASON_FROM_FIX),
    ],
)
def test_every_reason_maps_to_fix_and_back_under_one_name(to_fix, from_fix):
    assert len(set(to_fix.values())) == len(to_fix), "two names share a FIX code"
    assert set(from_fix) == set(to_fix.values())
    for name, code in to_fix.items():
        assert from_fix[code] == name


@pytest.mark.parametrize(
    ("table", "name", "code"),
    [
        (t.ORD_REJ_REASON_TO_FIX, "unknown_symbol", "1"),
        (t.ORD_REJ_REASON_TO_FIX, "unknown_order", "5"),
        (t.ORD_REJ_REASON_TO_FIX, "duplicate_cl_ord_id", "6"),
        (t.ORD_REJ_REASON_TO_FIX, "incorrect_quantity", "13"),
        (t.ORD_REJ_REASON_TO_FIX, "other", "99"),
        (t.CXL_REJ_REASON_TO_FIX, "too_late", "0"),
        (t.CXL_REJ_REASON_TO_FIX, "unknown_order", "1"),
        (t.CXL_REJ_REASON_TO_FIX, "request_pending", "3"),
        (t.CXL_REJ_REASON_TO_FIX, "duplicate_cl_ord_id", "6"),
        (t.CXL_REJ_REASON_TO_FIX, "other", "99"),
        (t.CXL_REJ_RESPONSE_TO_FIX, "cancel", "1"),
        (t.CXL_REJ_RESPONSE_TO_FIX, "replace", "2"),
        (t.MASS_CANCEL_REQUEST_TYPE_TO_FIX, "security", "1"),
        (t.MASS_CANCEL_REQUEST_TYPE_TO_FIX, "all", "7"),
        (t.MASS_CANCEL_RESPONSE_TO_FIX, "rejected", "0"),
        (t.MASS_CANCEL_RESPONSE_TO_FIX, "all", "7"),
        (t.MASS_CANCEL_REJECT_REASON_TO_FIX, "not_supported", "0"),
        (t.MASS_CANCEL_REJECT_REASON_TO_FIX, "unknown_security", "1"),
        (t.MASS_CANCEL_REJECT_REASON_TO_FIX, "other", "99"),
    ],
)
def test_reason_codes_are_fix_44(table, name, code):
    assert table[name] == code


def test_a_reason_shared_by_both_rejects_has_one_name():
    shared = set(t.ORD_REJ_REASON_TO_FIX) & set(t.CXL_REJ_REASON_TO_FIX)
    assert {"unknown_order", "duplicate_cl_ord_id", "other"} <= shared


@pytest.mark.parametrize(
    ("tag", "to_fix"),
    [(530, t.MASS_CANCEL_REQUEST_TYPE_TO_FIX), (531, t.MASS_CANCEL_RESPONSE_TO_FIX),
     (532, t.MASS_CANCEL_REJECT_REASON_TO_FIX)],
)  # fmt: skip
def test_mass_cancel_codes_are_exactly_the_data_dictionarys(tag, to_fix):
    field = ET.parse(data_dictionary()).getroot().find(f"fields/field[@number='{tag}']")
    assert field is not None
    assert set(to_fix.values()) == {value.get("enum") for value in field.iter("value")}
