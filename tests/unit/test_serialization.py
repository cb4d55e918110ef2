"""Event payloads: round trips, no floats, and the stored version-1 fixtures still read."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from order_driver import PROPERTY_SETTINGS

from orders.domain import events as ev
from orders.domain.serialization import (
    EVENT_TYPES,
    SCHEMA_VERSIONS,
    UPCASTERS,
    UnknownEvent,
    event_from_payload,
    event_from_payload_by_constructor,
    event_to_payload,
    upcast,
)
from orders.domain.values import OrderType, Side, Strategy, TimeInForce
from reconciliation.domain import events as rec_ev
from risk.domain import events as risk_ev

FIXTURES_V1 = Path(__file__).parent / "fixtures" / "events_v1"
ORDER_ID = 42
AT_NS = 1_732_550_400_123_456_789

# One event of every type, as the v1 fixtures hold them: odd decimals on purpose (trailing
# zeros, exponents, many places), which a float would mangle.
SAMPLES: dict[str, Any] = {
    "OrderAccepted": ev.OrderAccepted(
        order_id=ORDER_ID,
        at_ns=AT_NS,
        account="ACC-1",
        cl_ord_id="C-1",
        symbol="ACME",
        side=Side.BUY,
        quantity=Decimal("100"),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        limit_price=Decimal("10.10"),
    ),
    "OrderRejected": ev.OrderRejected(
        order_id=ORDER_ID,
        at_ns=AT_NS,
        account="ACC-1",
        cl_ord_id="C-2",
        symbol="ACME",
        side=Side.SELL_SHORT,
        quantity=Decimal("5E+2"),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.IOC,
        limit_price=None,
        reason="unknown_account",
        text="account 'ACC-1' is unknown or not active",
    ),
    "OrderAcknowledged": ev.OrderAcknowledged(ORDER_ID, AT_NS, "E-1"),
    "OrderVenueRejected": ev.OrderVenueRejected(ORDER_ID, AT_NS, "E-2", "unknown symbol at venue"),
    "OrderPartiallyFilled": ev.OrderPartiallyFilled(ORDER_ID, AT_NS, "E-3", Decimal("0.5"), Decimal("10.123456789")),
    "OrderFilled": ev.OrderFilled(ORDER_ID, AT_NS, "E-4", Decimal("99.50"), Decimal("10.10")),
    "OrderCancelRequested": ev.OrderCancelRequested(ORDER_ID, AT_NS, "X-1", "C-1"),
    "OrderCancelRejected": ev.OrderCancelRejected(
        ORDER_ID, AT_NS, "X-2", "C-1", "too_late_to_cancel", "too late to cancel: the order is filled"
    ),
    "OrderCanceled": ev.OrderCanceled(ORDER_ID, AT_NS, "E-5"),
    "OrderReplaceRequested": ev.OrderReplaceRequested(ORDER_ID, AT_NS, "R-1", "C-1", Decimal("150"), Decimal("9.95")),
    "OrderReplaceRejected": ev.OrderReplaceRejected(
        ORDER_ID, AT_NS, "R-2", "C-1", "quantity_below_cum_qty", "quantity 10 is below the 40 already filled"
    ),
    "OrderReplaced": ev.OrderReplaced(ORDER_ID, AT_NS, "E-6", "R-1", Decimal("150"), None),
    "OrderExpired": ev.OrderExpired(ORDER_ID, AT_NS, "E-7"),
    "OrderRouted": ev.OrderRouted(
        ORDER_ID,
        AT_NS,
        Strategy.SPLIT,
        (ev.RoutedChild(43, "SIMA", Decimal("60")), ev.RoutedChild(44, "SIMB", Decimal("40.0"))),
        "60 at SIMA (best 10.10), 40 at SIMB (10.11)",
    ),
    "ParentReplaced": ev.ParentReplaced(
        ORDER_ID, AT_NS, "R-3", "C-1", Decimal("80"), Decimal("10.05"), "child 44 is filled; not changed"
    ),
    "ExecutionAnomalyRecorded": ev.ExecutionAnomalyRecorded(
        ORDER_ID, AT_NS, "E-8", "overfill", "a fill of 5 takes cum_qty to 105, over 100"
    ),
    "OrderDoneForDay": ev.OrderDoneForDay(ORDER_ID, AT_NS, "E-9"),
    "FillBusted": ev.FillBusted(
        ORDER_ID, AT_NS, "E-10", "E-4", Decimal("99.50"), Decimal("10.10"), "trade busted: erroneous print"
    ),
    "FillCorrected": ev.FillCorrected(
        ORDER_ID,
        AT_NS,
        "E-11",
        "E-3",
        Decimal("0.25"),
        Decimal("10.12"),
        Decimal("0.5"),
        Decimal("10.123456789"),
        "corrected by the venue",
    ),
    "OrderRestated": ev.OrderRestated(ORDER_ID, AT_NS, "E-12", Decimal("90"), Decimal("10.05"), "restated: partial"),
    "ParentQuantityRaised": ev.ParentQuantityRaised(ORDER_ID, AT_NS, Decimal("100"), "child 43 filled 100"),
    "RiskLimitsChanged": risk_ev.RiskLimitsChanged(
        0, AT_NS, "ACC-1", None, (risk_ev.SettingChange("max_order_qty", None, "5E+3"),), "desk limits for Q4"
    ),
    "InstrumentRiskChanged": risk_ev.InstrumentRiskChanged(
        0, AT_NS, "ACME", (risk_ev.SettingChange("restricted", "false", "true"),), "corporate action"
    ),
    "KillSwitchEngaged": risk_ev.KillSwitchEngaged(0, AT_NS, "account", "ACC-1", "runaway algo", 3),
    "KillSwitchReleased": risk_ev.KillSwitchReleased(0, AT_NS, "account", "ACC-1", "algo fixed"),
    "ReconciliationBreak": rec_ev.ReconciliationBreak(
        7,
        AT_NS,
        "position",
        "XSIM",
        "ACC-1",
        "ACME",
        Decimal("100"),
        Decimal("90.50"),
        "",
        "",
        Decimal("10.05"),
        "XSIM ACC-1 ACME: the OMS holds 100, the venue reports 90.5",
        "run-1",
    ),
    "ReconciliationBreakCleared": rec_ev.ReconciliationBreakCleared(
        7, AT_NS, "cleared on the next run: the OMS and the venue agree", None, "run-2"
    ),
    "PositionAdjusted": rec_ev.PositionAdjusted(
        7, AT_NS, "XSIM", "ACC-1", "ACME", Decimal("-9.50"), Decimal("10.05"), "venue confirmed the trade"
    ),
    "ReconciliationBreakResolved": rec_ev.ReconciliationBreakResolved(
        7, AT_NS, "accepted", "venue confirmed the trade"
    ),
}


def stream_id_of(event: Any) -> int:
    return event.order_id if hasattr(event, "order_id") else event.stream_id


def refuse_float(text: str) -> Any:
    raise AssertionError(f"a float in a payload: {text}")


def assert_no_floats(value: Any) -> None:
    assert not isinstance(value, float), value
    if isinstance(value, dict):
        for item in value.values():
            assert_no_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            assert_no_floats(item)


def test_there_is_a_sample_of_every_event_type():
    assert set(SAMPLES) == set(EVENT_TYPES)
    assert all(type(event).__name__ == name for name, event in SAMPLES.items())


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_round_trips_through_its_payload(event_type):
    event = SAMPLES[event_type]

    payload = event_to_payload(event)
    decoded = event_from_payload(
        event_type, SCHEMA_VERSIONS[event_type], payload, order_id=stream_id_of(event), at_ns=event.at_ns
    )

    assert decoded == event
    assert not {"order_id", "stream_id", "at_ns"} & set(payload)  # they live in the log's columns


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_payload_holds_no_floats_and_decimals_travel_as_exact_strings(event_type):
    event = SAMPLES[event_type]

    payload = event_to_payload(event)

    assert_no_floats(payload)
    assert json.loads(json.dumps(payload), parse_float=refuse_float) == payload
    for name, hint in get_type_hints(type(event)).items():
        value = getattr(event, name)
        if isinstance(value, Decimal):
            # plain digits, scale kept: 10.10 stays "10.10", 5E+2 is written "500"
            assert payload[name] == format(value, "f"), name
            assert "E" not in payload[name]
        elif "Decimal" in str(hint):
            assert payload[name] is None


def test_enums_travel_as_their_values():
    payload = event_to_payload(SAMPLES["OrderRejected"])

    assert (payload["side"], payload["order_type"], payload["time_in_force"]) == ("sell_short", "market", "ioc")


# -- any event of any type, Hypothesis-built ---------------------------------------------

finite_decimals = st.decimals(allow_nan=False, allow_infinity=False)


def events_of(cls: type) -> st.SearchStrategy:
    overrides = {}
    for name, hint in get_type_hints(cls).items():
        if "RoutedChild" in str(hint):
            overrides[name] = st.lists(events_of(ev.RoutedChild), max_size=4).map(tuple)
        elif "RiskCheckRecord" in str(hint):
            overrides[name] = st.none() | events_of(ev.RiskCheckRecord)
        elif "Decimal" in str(hint):
            overrides[name] = finite_decimals | st.none() if "None" in str(hint) else finite_decimals
    return st.builds(cls, **overrides)


any_event = st.one_of([events_of(cls) for cls in EVENT_TYPES.values()])


@PROPERTY_SETTINGS
@given(any_event)
def test_any_event_round_trips_through_json(event):
    event_type = type(event).__name__

    stored = json.dumps(event_to_payload(event))
    payload = json.loads(stored, parse_float=refuse_float)
    version = SCHEMA_VERSIONS[event_type]
    decoded = event_from_payload(event_type, version, payload, order_id=stream_id_of(event), at_ns=event.at_ns)

    assert decoded == event
    for name in get_type_hints(type(event)):
        assert type(getattr(decoded, name)) is type(getattr(event, name)), name


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
@settings(PROPERTY_SETTINGS, max_examples=60)  # per event type: 21 types
@given(data=st.data())
def test_fast_decoder_builds_the_event_the_constructor_builds(event_type, data):
    # Replay decodes with generated code that skips the frozen __init__ (fast_build.py); it must
    # give the very event the class's own constructor gives, field by field and type by type.
    event = data.draw(events_of(EVENT_TYPES[event_type]))
    payload = json.loads(json.dumps(event_to_payload(event)), parse_float=refuse_float)
    version = SCHEMA_VERSIONS[event_type]
    stream_id = stream_id_of(event)

    fast = event_from_payload(event_type, version, payload, order_id=stream_id, at_ns=event.at_ns)
    constructed = event_from_payload_by_constructor(event_type, version, payload, order_id=stream_id, at_ns=event.at_ns)

    assert type(fast) is type(constructed) is type(event)
    assert fast == constructed == event
    if _hashable(constructed):
        assert hash(fast) == hash(constructed)
    for name in get_type_hints(type(event)):
        assert type(getattr(fast, name)) is type(getattr(constructed, name)), name
    with pytest.raises(AttributeError):  # still frozen
        fast.at_ns = 0


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@pytest.mark.parametrize("event_type", ["OrderAccepted", "OrderPartiallyFilled", "RiskLimitsChanged"])
def test_fast_decoder_refuses_a_payload_missing_a_field_or_with_a_bad_value(event_type):
    payload = event_to_payload(SAMPLES[event_type])
    version = SCHEMA_VERSIONS[event_type]
    with pytest.raises(KeyError):
        event_from_payload(event_type, version, {k: v for k, v in list(payload.items())[1:]}, order_id=1, at_ns=1)
    decimal_field = next((k for k, v in payload.items() if k in ("quantity", "last_qty")), None)
    if decimal_field:
        with pytest.raises(ArithmeticError):
            event_from_payload(event_type, version, {**payload, decimal_field: "lots"}, order_id=1, at_ns=1)


# -- version-1 fixtures: old logs keep reading -------------------------------------------


def load_fixture(event_type: str) -> dict[str, Any]:
    return json.loads((FIXTURES_V1 / f"{event_type}.json").read_text(), parse_float=refuse_float)


def test_there_is_a_v1_fixture_for_every_event_type():
    assert {path.stem for path in FIXTURES_V1.glob("*.json")} == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_v1_fixture_decodes_to_the_event_it_recorded(event_type):
    stored = load_fixture(event_type)
    assert (stored["event_type"], stored["schema_version"]) == (event_type, 1)

    decoded = event_from_payload(
        event_type, stored["schema_version"], stored["payload"], order_id=stored["order_id"], at_ns=stored["at_ns"]
    )

    assert decoded == SAMPLES[event_type]
    by_constructor = event_from_payload_by_constructor(
        event_type, stored["schema_version"], stored["payload"], order_id=stored["order_id"], at_ns=stored["at_ns"]
    )
    assert by_constructor == decoded


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_payload_shape_changes_only_with_a_version_bump(event_type):
    # While an event is still at version 1, encoding it today gives exactly the stored v1 payload.
    # A failure here means the payload changed shape: bump SCHEMA_VERSIONS, add an upcaster from
    # v1, and keep the v1 fixture as it is.
    if SCHEMA_VERSIONS[event_type] != 1:
        pytest.skip(f"{event_type} is past version 1; its v1 fixture is read through the upcasters")
    today = event_to_payload(SAMPLES[event_type])
    stored = load_fixture(event_type)["payload"]
    assert set(today) == set(stored), "the payload's fields changed"
    # the same values, however a decimal is spelled ("5E+2" then, "500" now)
    assert [Decimal(v) if _is_number(v) else v for v in today.values()] == [
        Decimal(stored[k]) if _is_number(stored[k]) else stored[k] for k in today
    ]


def _is_number(value: object) -> bool:
    try:
        Decimal(str(value))
    except ArithmeticError:
        return False
    return isinstance(value, str)


# -- upcasting --------------------------------------------------------------------------


def test_older_payload_runs_each_upcaster_in_order_up_to_the_current_version(monkeypatch):
    monkeypatch.setitem(SCHEMA_VERSIONS, "OrderExpired", 3)
    monkeypatch.setitem(UPCASTERS, ("OrderExpired", 1), lambda p: {**p, "steps": [*p["steps"], 1]})
    monkeypatch.setitem(UPCASTERS, ("OrderExpired", 2), lambda p: {**p, "steps": [*p["steps"], 2]})

    assert upcast("OrderExpired", 1, {"steps": []}) == {"steps": [1, 2]}
    assert upcast("OrderExpired", 2, {"steps": []}) == {"steps": [2]}
    assert upcast("OrderExpired", 3, {"steps": []}) == {"steps": []}


def test_decoding_an_old_version_reads_it_through_its_upcaster(monkeypatch):
    # Say v2 of OrderVenueRejected renamed `reason_text` (v1) to `text`.
    monkeypatch.setitem(SCHEMA_VERSIONS, "OrderVenueRejected", 2)
    monkeypatch.setitem(
        UPCASTERS,
        ("OrderVenueRejected", 1),
        lambda p: {"exec_id": p["exec_id"], "text": p["reason_text"]},
    )

    decoded = event_from_payload(
        "OrderVenueRejected", 1, {"exec_id": "E-2", "reason_text": "halted"}, order_id=ORDER_ID, at_ns=AT_NS
    )

    assert decoded == ev.OrderVenueRejected(ORDER_ID, AT_NS, "E-2", "halted")


def test_unknown_event_type_is_refused_by_name():
    with pytest.raises(UnknownEvent, match="OrderTeleported"):
        event_from_payload("OrderTeleported", 1, {}, order_id=ORDER_ID, at_ns=AT_NS)


def test_every_event_type_has_a_schema_version():
    assert set(SCHEMA_VERSIONS) == set(EVENT_TYPES)
    assert all(version >= 1 for version in SCHEMA_VERSIONS.values())


def test_commands_round_trip_through_their_bus_form_with_and_without_optional_fields():
    from orders.domain import commands as cmd
    from orders.domain.serialization import from_dict, to_dict
    from orders.domain.values import ExecType, OrdStatus

    bare = cmd.ApplyExecutionReport("c1", 1, "venue:X", 7, "E1", ExecType.NEW)
    full = cmd.ApplyExecutionReport(
        "c2", 2, "venue:X", 7, "E2", ExecType.ORDER_STATUS, cum_qty=Decimal("40"), avg_px=Decimal("10.5"),
        ord_status=OrdStatus.PARTIALLY_FILLED, unknown_order=False,
    )  # fmt: skip
    for command in (bare, full):
        assert from_dict(cmd.ApplyExecutionReport, to_dict(command)) == command
    from reconciliation.domain.compare import Difference

    run = cmd.RecordReconciliation("c3", 3, "system", "XSIM", "run-1", ("ACC-1",), True, (
        Difference("position", "XSIM", "ACC-1", "ACME", Decimal("100"), Decimal("90.5"), venue_price=Decimal("10")),
        Difference("order", "XSIM", "ACC-1", "12", None, Decimal("0"), "missing", "new"),
    ))  # fmt: skip
    assert from_dict(cmd.RecordReconciliation, to_dict(run)) == run
