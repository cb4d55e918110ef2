"""The snapshot codec (orders/engine/snapshot_codec.py): complete, canonical, versioned.

- every field of EngineState (and of what it holds) is covered, and a new one is caught;
- for logs built by random command sequences (the engine driven as in test_engine_risk_properties):
  a snapshot taken at any position, decoded and with the rest of the log folded on, equals the
  full fold (by state hash and part by part), and encoding is a byte-exact round trip;
- a fixture of every snapshot version ever written decodes through the upcasters (after bumping
  SCHEMA_VERSION, write the new version's with `OMS_WRITE_SNAPSHOT_FIXTURE=1 pytest
  tests/unit/test_snapshot_codec.py -k fixture`, and keep the old ones);
- a corrupt, unknown or wrongly based document is refused with a SnapshotError.
"""

from __future__ import annotations

import os
from dataclasses import FrozenInstanceError, dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule
from order_driver import PROPERTY_SETTINGS
from test_engine_risk_properties import POLICY, ZONE, EngineRiskFollowsTheLog

from orders import store
from orders.domain.state import OrderState
from orders.domain.values import OrderType, Side, Strategy
from orders.engine import snapshot_codec as codec
from orders.engine.state import EngineState
from reconciliation.domain import events as rev
from risk.domain import DuplicateWindow, RiskUsage

FIXTURES = Path(__file__).parent / "fixtures" / "snapshots"
BASIS = codec.Basis.of(ZONE, POLICY)
RATES = {"AAA": Decimal("0.25"), "BBB": Decimal("0.15")}


def fold(rows: list[tuple], state: EngineState | None = None) -> EngineState:
    state = state if state is not None else EngineState(usage=RiskUsage(RATES), duplicates=DuplicateWindow(POLICY))
    for row in rows:
        state.fold(store.StoredEvent.from_row(row), ZONE)
    return state


def through_bytes(state: EngineState) -> EngineState:
    """Encode, pack, unpack, decode: what a snapshot's round trip through the database does."""
    return codec.decode(codec.unpack(codec.pack(codec.encode(state, BASIS))), BASIS, RATES, POLICY)


def assert_same(expected: EngineState, actual: EngineState) -> None:
    assert codec.differences(expected, actual) == []
    assert codec.state_hash(actual) == codec.state_hash(expected)
    # and by the classes' own equality, where they have one
    assert actual.orders == expected.orders
    assert actual.usage == expected.usage
    assert actual.cl_ord_ids == expected.cl_ord_ids
    assert actual.traders == expected.traders
    assert actual.live == expected.live
    assert actual.breaks == expected.breaks
    assert set(actual.kill_switches.engaged()) == set(expected.kill_switches.engaged())


# -- coverage ------------------------------------------------------------------------------------


def test_the_codec_covers_every_field_of_the_engine_state():
    assert codec.uncovered() == {}
    assert set(codec.SECTIONS) == {f for f in EngineState.__dataclass_fields__}


def test_a_field_added_to_the_engine_state_is_caught():
    @dataclass
    class WithMore(EngineState):
        allocations: dict[int, str] = field(default_factory=dict)

    assert codec.held_fields(WithMore) - set(codec.COVERED[EngineState]) == {"allocations"}


# -- properties over random logs -----------------------------------------------------------------


class SnapshotsFollowTheLog(EngineRiskFollowsTheLog):
    """The engine's state machine, plus: snapshot the log at any position and fold the rest on."""

    @rule(cut=st.integers(0, 10_000))
    def snapshot_at_any_position_plus_the_tail_equals_the_full_fold(self, cut):
        at = cut % (len(self.rows) + 1)
        snapshot = through_bytes(fold(self.rows[:at]))
        assert snapshot.last_position == (self.rows[at - 1][0] if at else 0)
        full = fold(self.rows)
        assert_same(full, fold(self.rows[at:], snapshot))

    @rule()
    def encoding_is_a_canonical_round_trip(self):
        state = fold(self.rows)
        doc = codec.encode(state, BASIS)
        assert codec.pack(codec.encode(state, BASIS)) == codec.pack(doc)  # one state, one byte string
        assert_same(state, through_bytes(state))
        # byte for byte when the margin rates are not re-applied (repricing the credit used may write
        # the same value with other digits: 250.0 for 250.00)
        as_stored = codec.decode(codec.unpack(codec.pack(doc)), BASIS, None, POLICY)
        assert codec.pack(codec.encode(as_stored, BASIS)) == codec.pack(doc)

    @rule()
    def the_orders_columns_are_their_rows_turned(self):
        state = fold(self.rows)
        assert codec._orders_doc(state.orders) == rows_turned(state.orders)


def rows_turned(orders: dict) -> dict:
    """The orders section as first defined: a row per order (`_order_row`), turned into columns,
    the coded ones coded in order of first use. The codec builds it a column at a time."""
    rows = [codec._order_row(orders[order_id]) for order_id in sorted(orders)]
    columns = {}
    for name, values in zip(codec.ORDER_FIELDS, zip(*rows)) if rows else ():
        if name in codec.CODED_COLUMNS:
            distinct = list(dict.fromkeys(values))
            columns[name] = {"values": distinct, "codes": [distinct.index(v) for v in values]}
        else:
            columns[name] = list(values)
    return {"count": len(rows), "columns": columns}


SnapshotsFollowTheLog.TestCase.settings = settings(PROPERTY_SETTINGS, max_examples=60, stateful_step_count=30)
TestSnapshotsFollowTheLog = SnapshotsFollowTheLog.TestCase


def test_decimals_keep_their_digits_and_compare_by_value():
    machine = EngineRiskFollowsTheLog()
    machine.submit("ACC-1", "AAA", Side.BUY, Decimal("10"), 0, None, "user:alice")
    state = fold(machine.rows)
    order = next(iter(state.orders.values()))
    assert order.order_type is OrderType.LIMIT
    assert str(through_bytes(state).orders[order.order_id].limit_price) == str(order.limit_price)  # "10.00"
    assert codec.by_value(Decimal("10.00")) == codec.by_value(Decimal("1E+1")) == "10"
    assert codec.by_value(Decimal("-0.0")) == codec.by_value(Decimal(0)) == "0"


def test_decimals_in_any_notation_are_written_in_plain_digits_and_read_back_alike():
    machine = EngineRiskFollowsTheLog()
    machine.submit("ACC-1", "AAA", Side.BUY, Decimal("10"), 0, None, "user:alice")
    state = fold(machine.rows)
    [(order_id, order)] = state.orders.items()
    odd = [Decimal("1E+2"), Decimal("1.0E+1"), Decimal("0E-8"), Decimal("1E-7"), Decimal("-0"), Decimal("12.500")]
    for value in odd:
        state.orders[order_id] = replace(order, quantity=value, cum_qty=value, limit_price=value,
                                         fills=(("E1", value, value),), exec_ids=frozenset({"E1"}))  # fmt: skip
        doc = codec._orders_doc(state.orders)
        assert doc == rows_turned(state.orders)
        assert doc["columns"]["quantity"]["values"] == [codec.as_written(value)]
        restored = codec.decode(codec.unpack(codec.pack(codec.encode(state, BASIS))), BASIS, None, POLICY)
        again = restored.orders[order_id]
        assert type(again) is OrderState
        as_read = str(Decimal(codec.as_written(value)))  # the digits as written (1E+2 is 100)
        assert [str(again.quantity), str(again.limit_price), str(again.fills[0][2])] == [as_read] * 3
    with pytest.raises(FrozenInstanceError):
        again.quantity = Decimal(1)  # type: ignore[misc]


def test_fills_and_exec_ids_of_every_shape_read_back_alike():
    machine = EngineRiskFollowsTheLog()
    for _ in range(5):
        machine.submit("ACC-1", "AAA", Side.BUY, Decimal("10"), 0, None, "user:alice")
    state = fold(machine.rows)
    one, two = Decimal("1"), Decimal("2.50")
    shapes = [
        ((), frozenset()),  # no fill, no ExecID
        ((), frozenset({"X1", "X2"})),  # ExecIDs without fills (busted ones, say)
        ((("E1", one, two),), frozenset({"E1"})),  # the usual: a fill's ExecID
        ((("E1", one, two), ("E2", two, one)), frozenset({"E1", "E2", "E0"})),  # one ExecID more
        ((("E1", one, two),), frozenset({"E9"})),  # a fill whose ExecID is not among them
    ]
    for (order_id, order), (fills, exec_ids) in zip(sorted(state.orders.items()), shapes, strict=True):
        state.orders[order_id] = replace(order, fills=fills, exec_ids=exec_ids)
    assert codec._orders_doc(state.orders) == rows_turned(state.orders)
    restored = codec.decode(codec.unpack(codec.pack(codec.encode(state, BASIS))), BASIS, None, POLICY)
    assert restored.orders == state.orders


# -- versions ------------------------------------------------------------------------------------


def fixture_state() -> EngineState:
    """A small state with something in every part: orders of each kind, fills, a pending replace,
    a parent with children, a market order's valuation, a kill switch, windows with stamps."""
    m = EngineRiskFollowsTheLog()
    m.submit("ACC-1", "AAA", Side.BUY, Decimal(30), 0, None, "user:alice")
    m.submit("ACC-2", "BBB", Side.SELL, Decimal(20), None, "V2", "fix:CLIENT1")
    m.submit_parent("ACC-1", "BBB", Side.BUY, Decimal(40), 1, Strategy.SLICES, "user:bob")
    m.venue_answers_a_new_order(0, False)
    m.fill(0, Decimal(10), 1)
    m.replace(0, Decimal(20), 1, "user:alice")
    m.risk_control("kill_switch", 3, ("max_position_qty", "40"))
    state = fold(m.rows)
    # reconciliation breaks: one open, one cleared by the next run
    for break_id, (kind, subject, oms, venue) in enumerate([("position", "AAA", "10", "12"),
                                                            ("order", "1", None, "5")], start=1):  # fmt: skip
        state.track_reconciliation(rev.ReconciliationBreak(
            break_id, m.now, kind, "V1", "ACC-1", subject, oms if oms is None else Decimal(oms), Decimal(venue),
            "" if kind == "position" else "missing", "" if kind == "position" else "new",
            Decimal("10.01") if kind == "position" else None, "differs", "run-1",
        ))  # fmt: skip
    state.track_reconciliation(rev.ReconciliationBreakCleared(2, m.now + 1, "cleared by itself", None, "run-2"))
    return state


@pytest.mark.parametrize("version", range(1, codec.SCHEMA_VERSION + 1))
def test_a_fixture_of_every_snapshot_version_loads_through_the_upcasters(version):
    path = FIXTURES / f"v{version}.json"
    if os.environ.get("OMS_WRITE_SNAPSHOT_FIXTURE") and version == codec.SCHEMA_VERSION and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(codec.encode(fixture_state(), BASIS), option=orjson.OPT_INDENT_2 |
                                      orjson.OPT_SORT_KEYS))  # fmt: skip
    assert path.exists(), f"no fixture of snapshot version {version}: keep one for every version ever written"
    doc = orjson.loads(path.read_bytes())
    assert doc["schema"] == version
    state = codec.decode(doc, BASIS, RATES, POLICY)
    assert state.orders and state.cl_ord_ids and state.traders and state.live
    assert state.kill_switches.engaged() and state.usage.figures()["symbols"] and state.last_position
    assert {b.status for b in state.breaks.values()} == {"open", "cleared"}
    # what the current code writes of it reads back the same
    assert_same(state, through_bytes(state))


def test_upcasters_run_in_order_from_an_older_version(monkeypatch):
    doc = codec.encode(fixture_state(), BASIS)
    monkeypatch.setattr(codec, "SCHEMA_VERSION", codec.SCHEMA_VERSION + 2)
    steps = []
    monkeypatch.setitem(codec.UPCASTERS, codec.SCHEMA_VERSION - 2, lambda d: steps.append(1) or {**d, "a": 1})
    monkeypatch.setitem(codec.UPCASTERS, codec.SCHEMA_VERSION - 1, lambda d: steps.append(2) or {**d, "b": d["a"]})
    upcast = codec.upcast(dict(doc))
    assert steps == [1, 2]
    assert upcast["schema"] == codec.SCHEMA_VERSION and upcast["b"] == 1


# -- refusals ------------------------------------------------------------------------------------


def test_an_unknown_version_is_refused():
    doc = codec.encode(fixture_state(), BASIS)
    for version in (0, codec.SCHEMA_VERSION + 1, "1", None):
        with pytest.raises(codec.UnknownVersion, match="not one this code reads"):
            codec.decode({**doc, "schema": version}, BASIS, RATES, POLICY)


def test_a_snapshot_folded_on_another_basis_is_refused():
    doc = codec.encode(fixture_state(), BASIS)
    with pytest.raises(codec.WrongBasis, match="trading day 'closes midnight Europe/London"):
        codec.decode(doc, codec.Basis.of("Europe/London", POLICY), RATES, POLICY)
    with pytest.raises(codec.WrongBasis, match="duplicate window 2 s"):
        codec.decode(doc, codec.Basis(BASIS.trading_day, 2 * BASIS.duplicate_window_ns), RATES, POLICY)


def test_unreadable_bytes_are_refused():
    payload = codec.pack(codec.encode(fixture_state(), BASIS))
    with pytest.raises(codec.SnapshotError, match="unreadable"):
        codec.unpack(payload[:-10])
    with pytest.raises(codec.SnapshotError, match="unknown compression"):
        codec.unpack(payload, "lz4")
    assert codec.checksum(payload) != codec.checksum(payload[:-1] + b"x")


def test_the_credit_used_follows_todays_margin_rates():
    state = fixture_state()
    doc = codec.unpack(codec.pack(codec.encode(state, BASIS)))
    doubled = {symbol: rate * 2 for symbol, rate in RATES.items()}
    repriced = codec.decode(doc, BASIS, doubled, POLICY)
    for account, usage in state.usage.figures()["accounts"].items():
        assert repriced.usage.account(account).credit_used == usage.credit_used * 2
