"""The order-entry rules every edge calls (orders/entry.py): plain values and small lookups in,
problems naming the field, a machine-readable reason and a text out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders import entry
from orders.entry import Problem, Routing

SYMBOLS = {"AAPL", "VOD.L"}
VENUES = {"XNAS", "XLON"}
MINE = {"DESK-EQ"}
LOOKUPS = entry.Lookups(SYMBOLS.__contains__, VENUES.__contains__, may_trade=MINE.__contains__)
BAD_CL_ORD_ID = "cl_ord_id must be 1 to 64 printable ASCII characters without spaces"


def submit(**overrides) -> list[Problem]:
    order = {
        "account": "DESK-EQ",
        "cl_ord_id": "C-1",
        "symbol": "AAPL",
        "quantity": Decimal("100"),
        "order_type": "limit",
        "limit_price": Decimal("190.5"),
    }
    return entry.submit_problems(**(order | overrides), lookups=LOOKUPS)


def test_a_good_order_has_no_problems():
    assert submit() == []
    assert submit(order_type="market", limit_price=None, venue="XNAS") == []
    assert submit(routing=Routing("slices", slices=2, venues=("XNAS", "XLON"))) == []


@pytest.mark.parametrize(
    ("overrides", "field", "reason", "text"),
    [
        ({"account": "NOT-MINE"}, "account", "account_not_allowed",
         "account 'NOT-MINE' is unknown, inactive or not granted to you"),
        ({"cl_ord_id": "has space"}, "cl_ord_id", "invalid_cl_ord_id", BAD_CL_ORD_ID),
        ({"cl_ord_id": "ab\n"}, "cl_ord_id", "invalid_cl_ord_id", BAD_CL_ORD_ID),
        ({"cl_ord_id": "x" * 65}, "cl_ord_id", "invalid_cl_ord_id", BAD_CL_ORD_ID),
        ({"cl_ord_id": ""}, "cl_ord_id", "invalid_cl_ord_id", BAD_CL_ORD_ID),
        ({"symbol": "NOPE"}, "symbol", "unknown_symbol", "unknown symbol 'NOPE'"),
        ({"quantity": Decimal("-5.00000000")}, "quantity", "invalid_quantity", "quantity must be positive, got -5"),
        ({"quantity": Decimal("0")}, "quantity", "invalid_quantity", "quantity must be positive, got 0"),
        ({"quantity": Decimal("NaN")}, "quantity", "invalid_quantity", "quantity must be positive, got NaN"),
        ({"limit_price": Decimal("-1")}, "limit_price", "invalid_price", "limit_price must be positive, got -1"),
        ({"venue": "NOWHERE"}, "venue", "unknown_venue", "unknown or inactive venue 'NOWHERE'"),
        ({"limit_price": None}, "limit_price", "missing_limit_price", "a limit order needs a limit_price"),
        ({"order_type": "market"}, "limit_price", "price_on_market_order", "a market order takes no limit_price"),
        ({"venue": "XNAS", "routing": Routing("split")}, "venue", "venue_beside_routing",
         "give the venue in routing, not beside it"),
    ],
)  # fmt: skip
def test_one_bad_value_is_one_problem_naming_its_field(overrides, field, reason, text):
    assert submit(**overrides) == [Problem(field, reason, text)]


@pytest.mark.parametrize(
    ("routing", "field", "reason"),
    [
        (Routing("direct"), "routing.venue", "missing_venue"),
        (Routing("direct", venue="XNAS", venues=("XLON",)), "routing.venues", "venue_not_in_venues"),
        (Routing("split", venue="XNAS"), "routing.venue", "unexpected_venue"),
        (Routing("slices"), "routing.slices", "missing_slices"),
        (Routing("split", slices=3), "routing.slices", "unexpected_slices"),
        (Routing("direct", venue="NOWHERE"), "routing.venue", "unknown_venue"),
        (Routing("split", venues=("XNAS", "NOWHERE", "ZZ")), "routing.venues", "unknown_venue"),
    ],
)
def test_a_routing_instruction_that_makes_no_sense_names_its_field_inside_routing(routing, field, reason):
    [problem] = submit(routing=routing)
    assert (problem.field, problem.reason) == (field, reason)


def test_routing_texts_say_what_to_change():
    assert entry.routing_problem(Routing("split", venue="XNAS")) == Problem(
        "venue", "unexpected_venue", "only a direct route names one venue; split takes venues"
    )
    assert entry.routing_problem(Routing("direct", slices=2, venue="XNAS")) == Problem(
        "slices", "unexpected_slices", "slices are for the slices strategy, not direct"
    )
    assert entry.venues_problem(["XNAS", "NOWHERE", "ZZ"], VENUES.__contains__) == Problem(
        "venues", "unknown_venue", "unknown or inactive venue(s): 'NOWHERE', 'ZZ'"
    )


def test_every_bad_field_is_named_at_once():
    problems = submit(account="NOT-MINE", symbol="NOPE", quantity=Decimal(0), routing=Routing("direct", venue="ZZ"))
    assert [p.field for p in problems] == ["account", "symbol", "quantity", "routing.venue"]


def test_rules_across_fields_wait_until_every_field_is_fine():
    # A limit order without its price on an unknown symbol: the client hears of the symbol first,
    # as REST answers (DRF validates fields before the object).
    assert [p.reason for p in submit(symbol="NOPE", limit_price=None)] == ["unknown_symbol"]
    assert [p.reason for p in submit(routing=Routing("slices"), venue="XNAS")] == ["missing_slices"]


def test_the_permission_is_the_edges_to_give():
    session_accounts = {"CLIENT-1"}
    lookups = entry.Lookups(SYMBOLS.__contains__, VENUES.__contains__, session_accounts.__contains__)
    order = {"cl_ord_id": "C-1", "symbol": "AAPL", "quantity": Decimal(1), "order_type": "market", "limit_price": None}
    assert entry.submit_problems(account="CLIENT-1", **order, lookups=lookups) == []
    [refused] = entry.submit_problems(account="DESK-EQ", **order, lookups=lookups)
    assert refused.reason == "account_not_allowed"
    assert refused.text.endswith("not granted to you")
    as_session = entry.Lookups(SYMBOLS.__contains__, VENUES.__contains__, session_accounts.__contains__,
                               grantee="session CLIENT1")  # fmt: skip
    [refused] = entry.submit_problems(account="DESK-EQ", **order, lookups=as_session)
    assert refused.text == "account 'DESK-EQ' is unknown, inactive or not granted to session CLIENT1"


def test_lookups_are_asked_only_about_the_request():
    asked: list[str] = []

    def known(symbol: str) -> bool:
        asked.append(symbol)
        return True

    entry.symbol_problem("AAPL", known)
    assert asked == ["AAPL"]


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"quantity": Decimal(150)}, []),
        ({"limit_price": Decimal("191")}, []),
        ({}, ["nothing_to_replace"]),
        ({"quantity": Decimal(0)}, ["invalid_quantity"]),
        ({"limit_price": Decimal("-1"), "cl_ord_id": "a b"}, ["invalid_price", "invalid_cl_ord_id"]),
    ],
)
def test_a_replace_changes_quantity_or_price(changes, reasons):
    request = {"quantity": None, "limit_price": None, "cl_ord_id": None} | changes
    assert [p.reason for p in entry.replace_problems(**request)] == reasons


def test_nothing_to_replace_is_about_the_whole_request():
    assert entry.replace_problem(quantity=None, limit_price=None) == Problem(
        None, "nothing_to_replace", "give quantity and/or limit_price to replace"
    )


def test_a_cancel_checks_only_its_own_cl_ord_id():
    assert entry.cancel_problems(cl_ord_id=None) == []
    assert entry.cancel_problems(cl_ord_id="X-2") == []
    assert [p.field for p in entry.cancel_problems(cl_ord_id="X 2")] == ["cl_ord_id"]


def test_the_field_a_cl_ord_id_came_in_is_named():
    problem = entry.cl_ord_id_problem("", field="orig_cl_ord_id")
    assert problem is not None and problem.field == "orig_cl_ord_id" and problem.text.startswith("orig_cl_ord_id")


@given(st.text(max_size=80))
def test_a_cl_ord_id_is_1_to_64_printable_ascii_without_spaces(value):
    fits = 1 <= len(value) <= 64 and all("!" <= c <= "~" for c in value)
    assert (entry.cl_ord_id_problem(value) is None) == fits


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8))
def test_a_quantity_is_refused_exactly_when_not_positive(value):
    assert (entry.quantity_problem(value) is None) == (value > 0)
