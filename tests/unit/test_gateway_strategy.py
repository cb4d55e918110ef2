"""848 TargetStrategyParameters: a parent order's routing over FIX."""

import pytest

from gateway.domain.strategy import routing_from_fix, tag_of
from orders.entry import Routing


@pytest.mark.parametrize(("text", "routing"), [
    ("strategy=split", Routing("split")),
    ("strategy=split;venues=SIMA,SIMB", Routing("split", venues=("SIMA", "SIMB"))),
    (" strategy = slices ; slices = 4 ;", Routing("slices", slices=4)),
    ("strategy=direct;venue=SIMB", Routing("direct", venue="SIMB")),
])  # fmt: skip
def test_an_instruction_reads_as_rests_routing(text, routing):
    assert routing_from_fix(text) == routing


@pytest.mark.parametrize(("text", "says"), [
    ("split", "is not key=value"),
    ("strategy=", "is not key=value"),
    ("venues=SIMA", "say the strategy"),
    ("strategy=vwap", "unknown strategy 'vwap'"),
    ("strategy=split;colour=red", "unknown key 'colour'"),
    ("strategy=split;strategy=slices", "strategy given twice"),
    ("strategy=slices;slices=0", "slices must be a whole number from 1 to 100"),
    ("strategy=slices;slices=2.5", "slices must be a whole number"),
    ("strategy=split;venues=,", "venues must name 1 to 20 venues"),
])  # fmt: skip
def test_a_bad_instruction_says_what_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        routing_from_fix(text)


def test_a_problem_names_the_tag_the_client_wrote():
    assert (tag_of("quantity"), tag_of("routing.venues"), tag_of(None)) == (
        "38 OrderQty",
        "848 TargetStrategyParameters",
        "the message",
    )
