"""fast_build: the replay's builders give the objects the dataclasses' own code gives, still frozen."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from order_driver import PROPERTY_SETTINGS

from orders.domain import events as ev
from orders.domain.fast_build import evolver, positional_builder
from orders.domain.fold import _new_state
from orders.domain.state import OrderState, PendingRequest
from orders.domain.values import OrderType, OrdStatus, RequestKind, Side, TimeInForce

STATE = OrderState(7, "ACC-1", "C-1", "ACME", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, Decimal(100),
                   Decimal("10.10"), OrdStatus.NEW, 1, 2)  # fmt: skip
decimals = st.integers(0, 10**6).map(lambda n: Decimal(n).scaleb(-2))
changes = st.fixed_dictionaries(
    {},
    optional={
        "cum_qty": decimals,
        "notional": decimals,
        "status": st.sampled_from(OrdStatus),
        "version": st.integers(1, 100),
        "exec_ids": st.frozensets(st.text(max_size=3), max_size=3),
        "pending": st.none() | st.builds(PendingRequest, st.sampled_from(RequestKind), st.text(max_size=3)),
        "text": st.text(max_size=5),
        "fills": st.lists(st.tuples(st.text(max_size=3), decimals, decimals), max_size=3).map(tuple),
    },
)


@PROPERTY_SETTINGS
@given(changes)
def test_evolve_equals_dataclasses_replace_and_stays_frozen(changed):
    evolved = evolver(OrderState)(STATE, changed)

    assert type(evolved) is OrderState
    assert evolved == dataclasses.replace(STATE, **changed)
    assert hash(evolved) == hash(dataclasses.replace(STATE, **changed))
    with pytest.raises(dataclasses.FrozenInstanceError):
        evolved.cum_qty = Decimal(1)  # type: ignore[misc]
    assert STATE.cum_qty == 0  # the original is untouched


def test_evolve_refuses_a_field_the_class_does_not_have():
    with pytest.raises(AttributeError):
        evolver(OrderState)(STATE, {"colour": "red"})


def test_positional_builder_equals_the_constructor():
    values = ("E-1", Decimal("0.5"), Decimal("10.1"))
    built = positional_builder(ev.OrderFilled)(1, 2, *values)
    assert type(built) is ev.OrderFilled and built == ev.OrderFilled(1, 2, *values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.last_qty = Decimal(1)  # type: ignore[misc]


def test_a_new_orders_state_has_every_other_field_at_its_default():
    # fold._new_state passes the defaults positionally: a field added to OrderState must be added there too.
    built = _new_state(7, "ACC-1", "C-1", "ACME", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, Decimal(100),
                       Decimal("10.10"), OrdStatus.NEW, 1, 2, reject_reason=None, text="", venue=None, parent_id=None,
                       strategy=None)  # fmt: skip
    assert built == STATE
    assert [type(getattr(built, f.name)) for f in dataclasses.fields(OrderState)] == [
        type(getattr(STATE, f.name)) for f in dataclasses.fields(OrderState)
    ]


def test_classes_the_builders_cannot_serve_are_refused_at_once():
    @dataclasses.dataclass(frozen=True)
    class WithoutSlots:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x > 0

    for cls in (WithoutSlots, Checked):
        with pytest.raises(TypeError):
            positional_builder(cls)
