"""REST refuses an order exactly as orders.entry says, field for field and word for word: the
rules the FIX gateway will call are the ones REST already answers with."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import HELD_VENUE

from orders import entry, services

BASE = {"account": "DESK-EQ", "cl_ord_id": "E-1", "symbol": "AAPL", "side": "buy", "quantity": "100",
        "order_type": "limit", "limit_price": "190.5"}  # fmt: skip


def problems_of(body: dict, user) -> dict[str, list[str]]:
    lookups = entry.Lookups(
        symbol_known=services.instrument_exists,
        venue_active=services.venue_active,
        may_trade=lambda code: services.account_granted(user, code),
    )
    price = body.get("limit_price")
    found = entry.submit_problems(
        account=body["account"],
        cl_ord_id=body["cl_ord_id"],
        symbol=body["symbol"],
        quantity=Decimal(body["quantity"]),
        order_type=body["order_type"],
        limit_price=None if price is None else Decimal(price),
        venue=body.get("venue"),
        routing=entry.Routing(**body["routing"]) if "routing" in body else None,
        lookups=lookups,
    )
    grouped: dict[str, list[str]] = {}
    for problem in found:
        grouped.setdefault(problem.field or "non_field_errors", []).append(problem.text)
    return grouped


def flattened(errors: dict, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for field, value in errors.items():
        if isinstance(value, dict):
            flat |= flattened(value, f"{prefix}{field}.")
        else:
            flat[prefix + field] = value
    return flat


@pytest.mark.parametrize(
    "overrides",
    [
        {"account": "NOT-MINE"},
        {"cl_ord_id": "has space"},
        {"symbol": "NOPE"},
        {"quantity": "-5"},
        {"limit_price": "0"},
        {"venue": "NOWHERE"},
        {"limit_price": None},
        {"order_type": "market"},
        {"venue": HELD_VENUE, "routing": {"strategy": "split"}},
        {"routing": {"strategy": "direct"}},
        {"routing": {"strategy": "direct", "venue": HELD_VENUE, "venues": ["NOWHERE"]}},
        {"routing": {"strategy": "split", "venue": HELD_VENUE}},
        {"routing": {"strategy": "slices"}},
        {"routing": {"strategy": "split", "slices": 3}},
        {"account": "NOT-MINE", "symbol": "NOPE", "quantity": "0", "routing": {"strategy": "slices"}},
        {"symbol": "NOPE", "limit_price": None},
    ],
)
def test_rest_refuses_with_the_problems_entry_finds(api, trader, overrides):
    body = BASE | overrides
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 400, response.content
    expected = problems_of(body, trader)
    assert expected  # every case here is refused by a rule, not by parsing
    assert flattened(response.json()) == expected
