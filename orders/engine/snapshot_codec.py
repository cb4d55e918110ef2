"""The engine's state as a snapshot document, and back: pure (no database, no clock).

A snapshot is `EngineState` at a log position as plain values (ints, strings, lists, dicts;
Decimals as strings, enums as their values, dates as ISO text), packed as JSON and zlib:

- canonical: every map is written in key order (the orders and ClOrdID claims as columns; the
  kill switches in the order they were engaged, which KillSwitches keeps), so one state always
  encodes to the same bytes;
- versioned: the document carries `schema`; a reader upcasts an older document one version at a
  time (UPCASTERS) before decoding, so every snapshot ever written stays readable. Bump
  SCHEMA_VERSION whenever the document changes shape, add the upcaster from the old version and
  a fixture of the new one (tests/unit/fixtures/snapshots/);
- complete: SECTIONS names every field of EngineState, and importing this module fails when
  EngineState (or OrderState, RiskUsage, the windows) has a field it does not cover, so a new
  field cannot be silently left out of snapshots;
- without reference data: margin rates and the duplicate policy come from the database, not the
  log; `decode` takes the current ones, as `Engine._empty_state` does, and reprices the credit
  used. What folding itself depends on (the OMS's trading calendar, the duplicate window's length)
  is recorded in `basis`, and a snapshot taken on another basis is refused (`WrongBasis`).

`state_digest` hashes each part by value (a Decimal 1.0 equals 1.00, as OrderState's == says):
what `verify_snapshot` compares between a snapshot + tail and a full replay.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from itertools import chain, compress, islice, repeat
from operator import attrgetter
from typing import Any

import orjson

from orders.domain.calendar import TradingCalendar, Zone
from orders.domain.fast_build import positional_builder
from orders.domain.state import OrderState, PendingRequest
from orders.domain.values import OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce
from orders.engine.state import EngineState
from reconciliation.domain.breaks import Break
from risk.domain import DuplicateWindow, KillSwitches, MessageWindow, RiskUsage, Scope, Switch
from risk.domain.limits import NS_PER_SECOND, RiskPolicy
from risk.domain.usage import AccountUsage, Exposure, MarginRates, RestingOrder
from risk.domain.windows import _Stamps

SCHEMA_VERSION = 1
COMPRESSION = "zlib"
# Level 1: 5% larger than the default level 6 and 4x faster to write (66 MB of JSON for 326,000
# orders: 6.5 MB in 0.22 s against 6.2 MB in 0.85 s); reading costs the same (0.15 s) at either.
ZLIB_LEVEL = 1


class SnapshotError(Exception):
    """A snapshot that cannot be used: corrupt, unreadable, of an unknown version, or taken on a
    different basis. The message says which, for the operator's log."""


class UnknownVersion(SnapshotError):
    pass


class WrongBasis(SnapshotError):
    pass


@dataclass(frozen=True, slots=True)
class Basis:
    """What folding the log depends on besides the log: two states folded from the same events
    on different bases differ. Not reference data to re-apply: a snapshot on another basis
    cannot be corrected, only refused."""

    trading_day: str  # the OMS's trading calendar (TradingCalendar.describe()): ClOrdID claims are per day
    duplicate_window_ns: int  # how long the duplicate window keeps a stamp: what folding prunes

    @classmethod
    def of(cls, zone: Zone, policy: RiskPolicy) -> Basis:
        calendar = zone if isinstance(zone, TradingCalendar) else TradingCalendar(zone)
        return cls(calendar.describe(), policy.duplicate_window_ns)


# -- orders ------------------------------------------------------------------------------------

# OrderState's fields as a row, in this order. Fixed here (not read from the dataclass) so that a
# new field changes nothing written until the schema is bumped: the import check below fails first.
ORDER_FIELDS = (
    "order_id", "account", "cl_ord_id", "symbol", "side", "order_type", "time_in_force", "quantity",
    "limit_price", "status", "created_at_ns", "updated_at_ns", "version", "cum_qty", "notional", "acknowledged",
    "pending", "reject_reason", "text", "exec_ids", "anomalies", "venue", "parent_id", "strategy", "children",
    "venue_order_id", "fills",
)  # fmt: skip


Num = Callable[[Decimal], str]


def as_written(value: Decimal) -> str:
    """A Decimal as stored: its digits as they are (exponent kept), never in E notation."""
    return format(value, "f")


def by_value(value: Decimal) -> str:
    """A Decimal by its value alone (1.0 and 1.00 alike), for comparing states: OrderState's ==
    and RiskUsage's == compare Decimals so."""
    return "0" if not value else format(value.normalize(), "f")


def _opt(num: Num, value: Decimal | None) -> str | None:
    return None if value is None else num(value)


def _order_row(o: OrderState, num: Num = as_written) -> list[Any]:
    """One order as a row in ORDER_FIELDS order. Two columns are written compactly, as most orders
    are filled ones, whose ExecIDs are their fills': `fills` flat ([exec id, qty, px, exec id, ...]),
    and `exec_ids` as the ExecIDs beyond the fills' (or, should a fill's not be among them, null
    followed by all of them)."""
    pending = o.pending
    fill_ids = {exec_id for exec_id, _, _ in o.fills}
    exec_ids = sorted(o.exec_ids - fill_ids) if fill_ids <= o.exec_ids else [None, *sorted(o.exec_ids)]
    return [
        o.order_id, o.account, o.cl_ord_id, o.symbol, o.side.value, o.order_type.value, o.time_in_force.value,
        num(o.quantity), _opt(num, o.limit_price), o.status.value, o.created_at_ns, o.updated_at_ns, o.version,
        num(o.cum_qty), num(o.notional), o.acknowledged,
        None if pending is None else [pending.kind.value, pending.cl_ord_id, _opt(num, pending.quantity),
                                      _opt(num, pending.limit_price)],
        o.reject_reason, o.text, exec_ids, o.anomalies, o.venue, o.parent_id,
        None if o.strategy is None else o.strategy.value, list(o.children), o.venue_order_id,
        [value for exec_id, qty, px in o.fills for value in (exec_id, num(qty), num(px))],
    ]  # fmt: skip


class _Shared(dict[str, Any]):
    """Values built from their text once and shared: a million orders repeat a few hundred
    quantities, prices and days, and a hit here is a lookup in C where parsing is a Python call
    (every value kept is immutable, so sharing is safe)."""

    def __init__(self, make: Callable[[str], Any]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, text: str) -> Any:
        value = self[text] = self.make(text)
        return value


class _Decoder:
    def __init__(self) -> None:
        self.decimals = _Shared(Decimal)
        self.dates = _Shared(date.fromisoformat)

    def dec(self, text: str) -> Decimal:
        return self.decimals[text]

    def dec_or_none(self, text: str | None) -> Decimal | None:
        return None if text is None else self.decimals[text]

    def day(self, text: str) -> date:
        return self.dates[text]


_SIDE = Side._value2member_map_
_ORDER_TYPE = OrderType._value2member_map_
_TIF = TimeInForce._value2member_map_
_STATUS = OrdStatus._value2member_map_
_KIND = RequestKind._value2member_map_
_STRATEGY = Strategy._value2member_map_


# The orders as their columns give them: OrderState built positionally without its frozen
# __init__ (fast_build: an engine start builds a quarter of a million orders), columns in the
# order of its fields.
if tuple(f.name for f in fields(OrderState)) != ORDER_FIELDS:
    raise TypeError("ORDER_FIELDS must name OrderState's fields in their order: the columns are built positionally")
_new_order = positional_builder(OrderState)


# Columns of low cardinality (a desk's accounts, symbols, a few hundred quantities and prices) are
# written dictionary-coded: {"values": [each distinct value, in order of first use], "codes": [the
# index of each order's value]}. Parsing a small int allocates nothing, and each distinct value is
# decoded once; the others are plain lists, one value per order.
CODED_COLUMNS = frozenset({
    "account", "symbol", "side", "order_type", "time_in_force", "quantity", "limit_price", "status", "cum_qty",
    "notional", "reject_reason", "text", "venue", "strategy",
})  # fmt: skip


def _orders_doc(orders: Mapping[int, OrderState]) -> dict[str, Any]:
    """The orders as columns (ORDER_FIELDS order, orders by id): faster to read back than a row per
    order, and smaller (alike values sit together for zlib). The same document as a row per order
    (`_order_row`) turned into columns, built a column at a time: each field read for every order
    by one C-level `map`, enums and coded values translated once per distinct value, Decimals
    formatted without a Python call each (a snapshot is taken beside the running engine, on the
    same cores: its CPU is the engine's loss)."""
    ordered = [orders[order_id] for order_id in sorted(orders)]
    raw = {name: list(map(attrgetter(name), ordered)) for name in ORDER_FIELDS}
    columns: dict[str, Any] = {}
    for name in ORDER_FIELDS:
        values = raw[name]
        if name in _ENUM_COLUMNS:
            columns[name] = _coded_enums(values)
        elif name in _DECIMAL_COLUMNS:
            columns[name] = _coded(_decimal_texts(values))
        elif name in CODED_COLUMNS:
            columns[name] = _coded(values)
        else:
            columns[name] = values
    columns["pending"] = [
        None if p is None else [p.kind.value, p.cl_ord_id, _opt(as_written, p.quantity),
                                _opt(as_written, p.limit_price)]
        for p in raw["pending"]
    ]  # fmt: skip
    columns["children"] = list(map(list, raw["children"]))
    columns["exec_ids"], columns["fills"] = _fills_columns(raw["exec_ids"], raw["fills"])
    return {"count": len(ordered), "columns": columns} if ordered else {"count": 0, "columns": {}}


_ENUM_COLUMNS = frozenset({"side", "order_type", "time_in_force", "status", "strategy"})
_DECIMAL_COLUMNS = frozenset({"quantity", "limit_price", "cum_qty", "notional"})


def _plain(text: str) -> str | None:
    """as_written of the Decimal whose str() is `text` (None's is 'None'): str() is exact (a
    Decimal's sign, digits and exponent, 1.0 apart from 1.00) and, without an exponent, already
    the plain notation as_written gives."""
    if text == "None":
        return None
    return text if "E" not in text else as_written(Decimal(text))


def _decimal_texts(values: list[Decimal | None]) -> list[str | None]:
    """as_written of each (None kept), through str(): one C call each, and as_written's Python
    call once per distinct value (a million orders repeat a few hundred quantities and prices)."""
    plain = _Shared(_plain)
    return list(map(plain.__getitem__, map(str, values)))


def _coded(values: list[Any]) -> dict[str, list[Any]]:
    distinct = list(dict.fromkeys(values))  # in order of first use
    index = {value: code for code, value in enumerate(distinct)}
    return {"values": distinct, "codes": list(map(index.__getitem__, values))}


def _coded_enums(members: list[Any]) -> dict[str, list[Any]]:
    """As `_coded` of their values (None kept): a member and its value go one to one."""
    coded = _coded(members)
    coded["values"] = [None if m is None else m.value for m in coded["values"]]
    return coded


def _fills_columns(exec_ids: list[frozenset[str]], fills: list[tuple[tuple[str, Decimal, Decimal], ...]]
                   ) -> tuple[list[Any], list[Any]]:  # fmt: skip
    """The `exec_ids` and `fills` columns as `_order_row` writes them."""
    exec_column: list[Any] = []
    fills_column: list[Any] = []
    add_exec, add_fills = exec_column.append, fills_column.append
    plain = _Shared(_plain)
    for ids, order_fills in zip(exec_ids, fills):
        if not order_fills:
            add_exec(sorted(ids))
            add_fills([])
            continue
        fill_ids = {exec_id for exec_id, _, _ in order_fills}
        if fill_ids == ids:  # most orders: a filled one's ExecIDs are its fills'
            add_exec([])
        else:
            add_exec(sorted(ids - fill_ids) if fill_ids <= ids else [None, *sorted(ids)])
        add_fills([value for exec_id, qty, px in order_fills for value in (exec_id, plain[str(qty)], plain[str(px)])])
    return exec_column, fills_column


def _decimal_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _or_none(lookup: Mapping[str, Any]) -> Callable[[str | None], Any]:
    return lambda value: None if value is None else lookup[value]


# How each scalar column's values are read (identity for ints, text, bools).
_COLUMN_VALUE: dict[str, Callable[[Any], Any]] = {
    "side": _SIDE.__getitem__,
    "order_type": _ORDER_TYPE.__getitem__,
    "time_in_force": _TIF.__getitem__,
    "status": _STATUS.__getitem__,
    "strategy": _or_none(_STRATEGY),
    "quantity": Decimal,
    "limit_price": _decimal_or_none,
    "cum_qty": Decimal,
    "notional": Decimal,
}


def _column(name: str, doc: Any) -> list[Any]:
    read = _COLUMN_VALUE.get(name)
    if isinstance(doc, dict):  # coded: read each distinct value once
        values = doc["values"] if read is None else [read(v) for v in doc["values"]]
        return list(map(values.__getitem__, doc["codes"]))
    return doc if read is None else list(map(read, doc))


def _orders_from(doc: dict[str, Any], d: _Decoder) -> dict[int, OrderState]:
    count, columns = doc["count"], doc["columns"]
    if not count:
        return {}
    cols = {name: _column(name, columns[name]) for name in ORDER_FIELDS}
    if len({len(c) for c in cols.values()}) != 1 or len(cols["order_id"]) != count:
        raise ValueError("the order columns differ in length")
    dec_or_none = d.dec_or_none
    cols["fills"], cols["exec_ids"] = _fills_from(cols["fills"], cols["exec_ids"], d)
    cols["pending"] = [
        None if p is None else PendingRequest(_KIND[p[0]], p[1], dec_or_none(p[2]), dec_or_none(p[3]))
        for p in cols["pending"]
    ]
    cols["children"] = [tuple(c) if c else () for c in cols["children"]]
    return dict(zip(cols["order_id"], map(_new_order, *cols.values())))


def _fills_from(flats: list[list[Any]], extras: list[list[Any]], d: _Decoder) -> tuple[list[Any], list[Any]]:
    """The `fills` and `exec_ids` columns as `_fills_columns` wrote them, read for all orders at
    once: every order's flat [exec id, qty, px, ...] joined into one list, cut into (exec id, qty,
    px) triples by C-level calls, and dealt back to the orders by their counts (`tuple(islice(...))`
    mapped over the counts: a Python loop per order cost 1.3 s for 377,000 orders). Then the few
    orders whose ExecIDs are not just their fills' are corrected one by one."""
    lengths = list(map(len, flats))
    if any(map((3).__rmod__, lengths)):
        raise ValueError("a fills entry is not [exec id, qty, px, ...]")
    counts = [n // 3 for n in lengths]
    flat = list(chain.from_iterable(flats))
    dec = d.decimals.__getitem__
    ids = flat[0::3]
    triples = iter(list(zip(ids, map(dec, flat[1::3]), map(dec, flat[2::3]))))
    fills = list(map(tuple, map(islice, repeat(triples), counts)))
    ids_of = iter(ids)
    exec_ids = list(map(frozenset, map(islice, repeat(ids_of), counts)))
    for index in compress(range(len(extras)), extras):  # orders with ExecIDs beyond their fills'
        extra = extras[index]
        exec_ids[index] = frozenset(extra[1:]) if extra[0] is None else exec_ids[index] | frozenset(extra)
    return fills, exec_ids


# -- the other parts ---------------------------------------------------------------------------


def _sorted(entries: Iterable[Any]) -> list[Any]:
    """Entries in a total, canonical order, whatever they hold (None beside text, say): by their JSON."""
    return sorted(entries, key=orjson.dumps)


def _cl_ord_ids_doc(claims: Mapping[tuple[str, date, str], tuple[int, str]]) -> list[Any]:
    """Grouped by (account, day), each group as columns: [[account, day, [cl_ord_id, ...], [order id,
    ...], {"values": [what each names], "codes": [...]}], ...], groups and ClOrdIDs sorted."""
    groups: dict[tuple[str, date], list[tuple[str, int, str]]] = {}
    for (account, day, cl_ord_id), (order_id, named) in claims.items():
        groups.setdefault((account, day), []).append((cl_ord_id, order_id, named))
    doc = []
    for (account, day), entries in sorted(groups.items()):  # dates sort as their ISO text does
        entries.sort()
        cl_ord_ids, order_ids, names = zip(*entries)
        doc.append([account, day.isoformat(), list(cl_ord_ids), list(order_ids), _coded(list(names))])
    return doc


def _cl_ord_ids_from(doc: list[Any], d: _Decoder) -> dict[tuple[str, date, str], tuple[int, str]]:
    claims: dict[tuple[str, date, str], tuple[int, str]] = {}
    for account, day_text, cl_ord_ids, order_ids, named in doc:
        day = d.day(day_text)
        names = named["values"]
        claims.update(
            ((account, day, cl_ord_id), (order_id, names[code]))
            for cl_ord_id, order_id, code in zip(cl_ord_ids, order_ids, named["codes"], strict=True)
        )
    return claims


def _usage_doc(usage: RiskUsage, num: Num) -> dict[str, Any]:
    exposures = [[account, symbol, *map(num, e)] for (account, symbol), e in usage._exposures.items()]
    accounts = [[account, num(a.gross_notional), num(a.credit_used)] for account, a in usage._accounts.items()]
    resting = [
        [account, symbol, buying, _sorted([r.order_id, r.side.value, r.venue, _opt(num, r.limit_price), r.is_child]
                                          for r in orders.values())]
        for (account, symbol, buying), orders in usage._resting.items()
    ]  # fmt: skip
    valued_at = [[order_id, num(price)] for order_id, price in usage._valued_at.items()]
    return {"exposures": _sorted(exposures), "accounts": _sorted(accounts), "resting": _sorted(resting),
            "valued_at": sorted(valued_at)}  # fmt: skip


def _usage_from(doc: dict[str, Any], margin_rates: MarginRates | None, d: _Decoder) -> RiskUsage:
    usage = RiskUsage(margin_rates)
    dec = d.dec
    for account, symbol, *figures in doc["exposures"]:
        usage._exposures[(account, symbol)] = Exposure(*(dec(v) for v in figures))
        usage._symbols_of.setdefault(account, set()).add(symbol)  # derived: the symbols with figures
    usage._accounts = {account: AccountUsage(dec(gross), dec(credit)) for account, gross, credit in doc["accounts"]}
    for account, symbol, buying, resting in doc["resting"]:
        usage._resting[(account, symbol, buying)] = {
            order_id: RestingOrder(order_id, _SIDE[side], venue, d.dec_or_none(price), is_child)
            for order_id, side, venue, price, is_child in resting
        }
    usage._valued_at = {order_id: dec(price) for order_id, price in doc["valued_at"]}
    if margin_rates is not None:
        usage.reprice(margin_rates)  # the credit used at today's margin rates, as a replay would count it
    return usage


def _stamps_doc(stamps: _Stamps, key_doc: Callable[[Any], Any]) -> dict[str, Any]:
    return {
        "next_sweep": stamps._next_sweep,
        "stamps": _sorted([key_doc(key), list(times)] for key, times in stamps._stamps.items()),
    }


def _stamps_into(stamps: _Stamps, doc: dict[str, Any], key_from: Callable[[Any], Any]) -> None:
    stamps._next_sweep = doc["next_sweep"]
    stamps._stamps = {key_from(key): deque(times) for key, times in doc["stamps"]}


def _duplicate_key_doc(key: tuple[str, str, Side, Decimal, Decimal | None], num: Num) -> list[Any]:
    account, symbol, side, quantity, limit_price = key
    return [account, symbol, side.value, num(quantity), _opt(num, limit_price)]


def _switch_doc(s: Switch) -> list[Any]:
    return [s.scope.value, s.target, s.engaged_by, s.reason, s.at_ns]


def _traders_doc(traders: Mapping[int, str | None]) -> list[Any]:
    """Grouped by trader (a handful) with their order ids: [[trader or null, [order id, ...]], ...]."""
    by_trader: dict[str | None, list[int]] = {}
    for order_id, trader in traders.items():
        by_trader.setdefault(trader, []).append(order_id)
    return sorted(([trader, sorted(ids)] for trader, ids in by_trader.items()), key=lambda t: (t[0] is not None, t[0]))


# -- the document ------------------------------------------------------------------------------

# Every field of EngineState: (how it is written, how it is read back). Readers get the section's
# document, the decoder, and the reference data (margin rates, policy). Adding a field to
# EngineState means adding it here, bumping SCHEMA_VERSION, and writing the upcaster that gives
# older snapshots the field's value (often: what folding their events would have given it).
Encode = Callable[[EngineState, Num], Any]
Decode = Callable[[Any, _Decoder, MarginRates | None, RiskPolicy], Any]

SECTIONS: dict[str, tuple[Encode, Decode]] = {
    "orders": (
        lambda s, num: _orders_doc(s.orders),
        lambda doc, d, rates, policy: _orders_from(doc, d),
    ),
    "cl_ord_ids": (
        lambda s, num: _cl_ord_ids_doc(s.cl_ord_ids),
        lambda doc, d, rates, policy: _cl_ord_ids_from(doc, d),
    ),
    "last_position": (lambda s, num: s.last_position, lambda doc, d, rates, policy: doc),
    "last_order_id": (lambda s, num: s.last_order_id, lambda doc, d, rates, policy: doc),
    "usage": (lambda s, num: _usage_doc(s.usage, num), lambda doc, d, rates, policy: _usage_from(doc, rates, d)),
    "messages": (
        lambda s, num: _stamps_doc(s.messages._stamps, lambda account: account),
        lambda doc, d, rates, policy: _messages_from(doc),
    ),
    "duplicates": (
        lambda s, num: _stamps_doc(s.duplicates._stamps, lambda key: _duplicate_key_doc(key, num)),
        lambda doc, d, rates, policy: _duplicates_from(doc, policy, d),
    ),
    "kill_switches": (
        # in the order they were engaged: KillSwitches keeps it, and is given them again in it
        lambda s, num: [_switch_doc(switch) for switch in s.kill_switches.engaged()],
        lambda doc, d, rates, policy: KillSwitches(tuple(Switch(Scope(sc), t, by, r, at) for sc, t, by, r, at in doc)),
    ),
    "traders": (lambda s, num: _traders_doc(s.traders), lambda doc, d, rates, policy: _traders_from(doc)),
    "live": (lambda s, num: sorted(s.live), lambda doc, d, rates, policy: set(doc)),
    "risk_version": (lambda s, num: s.risk_version, lambda doc, d, rates, policy: doc),
    "breaks": (
        lambda s, num: [_break_row(s.breaks[break_id], num) for break_id in sorted(s.breaks)],
        lambda doc, d, rates, policy: _breaks_from(doc, d),
    ),
    # The command whose events were folded last: its next event is not another client message.
    "_last_command": (lambda s, num: s._last_command, lambda doc, d, rates, policy: doc),
}


# Break's fields as a row, in this order (reconciliation breaks, open and closed).
BREAK_FIELDS = (
    "break_id", "version", "kind", "venue", "account", "subject", "oms_quantity", "venue_quantity", "oms_status",
    "venue_status", "venue_price", "opened_at_ns", "status",
)  # fmt: skip


def _break_row(b: Break, num: Num) -> list[Any]:
    return [
        b.break_id, b.version, b.kind, b.venue, b.account, b.subject, _opt(num, b.oms_quantity),
        _opt(num, b.venue_quantity), b.oms_status, b.venue_status, _opt(num, b.venue_price), b.opened_at_ns, b.status,
    ]  # fmt: skip


def _breaks_from(doc: list[list[Any]], d: _Decoder) -> dict[int, Break]:
    q = d.dec_or_none
    return {row[0]: Break(*row[:6], q(row[6]), q(row[7]), row[8], row[9], q(row[10]), row[11], row[12]) for row in doc}


def _messages_from(doc: dict[str, Any]) -> MessageWindow:
    window = MessageWindow()
    _stamps_into(window._stamps, doc, lambda account: account)
    return window


def _duplicates_from(doc: dict[str, Any], policy: RiskPolicy, d: _Decoder) -> DuplicateWindow:
    window = DuplicateWindow(policy)
    _stamps_into(
        window._stamps,
        doc,
        lambda key: (key[0], key[1], _SIDE[key[2]], d.dec(key[3]), d.dec_or_none(key[4])),
    )
    return window


def _traders_from(doc: list[Any]) -> dict[int, str | None]:
    traders: dict[int, str | None] = {}
    for trader, order_ids in doc:
        traders.update(dict.fromkeys(order_ids, trader))
    return traders


def encode(state: EngineState, basis: Basis) -> dict[str, Any]:
    """The state as a snapshot document of the current schema."""
    return {
        "schema": SCHEMA_VERSION,
        "basis": {"trading_day": basis.trading_day, "duplicate_window_ns": basis.duplicate_window_ns},
        "order_fields": list(ORDER_FIELDS),
        **{name: write(state, as_written) for name, (write, _) in SECTIONS.items()},
    }


def decode(doc: dict[str, Any], basis: Basis, margin_rates: MarginRates | None, policy: RiskPolicy) -> EngineState:
    """A state from a snapshot document of any known schema, with today's reference data.
    Raises SnapshotError (UnknownVersion, WrongBasis) when it cannot be used."""
    doc = upcast(doc)
    written_on = Basis(**doc["basis"])
    if written_on != basis:
        raise WrongBasis(f"taken on {_describe(written_on)}, the engine folds on {_describe(basis)}")
    d = _Decoder()
    return EngineState(**{name: read(doc[name], d, margin_rates, policy) for name, (_, read) in SECTIONS.items()})


def _describe(basis: Basis) -> str:
    return f"trading day {basis.trading_day!r} and duplicate window {basis.duplicate_window_ns / NS_PER_SECOND:g} s"


# -- versions ----------------------------------------------------------------------------------

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# version it reads -> function returning the document at version + 1
UPCASTERS: dict[int, Upcaster] = {}


def upcast(doc: dict[str, Any]) -> dict[str, Any]:
    version = doc.get("schema")
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise UnknownVersion(f"snapshot schema version {version!r} is not one this code reads (1..{SCHEMA_VERSION})")
    while version < SCHEMA_VERSION:
        doc = UPCASTERS[version](doc)
        version += 1
        doc["schema"] = version
    return doc


# -- bytes -------------------------------------------------------------------------------------


def pack(doc: dict[str, Any]) -> bytes:
    """The document as stored: canonical JSON (sorted keys), zlib-compressed."""
    return zlib.compress(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS), ZLIB_LEVEL)


def unpack(payload: bytes, compression: str = COMPRESSION) -> dict[str, Any]:
    if compression != COMPRESSION:
        raise SnapshotError(f"unknown compression {compression!r}")
    try:
        doc = orjson.loads(zlib.decompress(payload))
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise SnapshotError(f"payload unreadable: {exc}") from exc
    if not isinstance(doc, dict):
        raise SnapshotError("payload is not a snapshot document")
    return doc


def checksum(payload: bytes) -> str:
    """sha256 of the stored bytes: a snapshot whose bytes changed is never decoded."""
    return hashlib.sha256(payload).hexdigest()


# -- comparing ---------------------------------------------------------------------------------


def section_docs(state: EngineState) -> dict[str, Any]:
    """Each part of the state as plain values compared by value."""
    docs = {name: write(state, by_value) for name, (write, _) in SECTIONS.items() if name != "orders"}
    # the orders a row each, by value (the stored columns would name a column, not the order, that differs)
    return {"orders": [_order_row(state.orders[order_id], by_value) for order_id in sorted(state.orders)], **docs}


def state_digest(state: EngineState) -> dict[str, str]:
    """A sha256 per part of the state, by value."""
    return {name: _sha(doc) for name, doc in section_docs(state).items()}


def state_hash(state: EngineState) -> str:
    """One sha256 for the whole state, by value: equal states, equal hashes."""
    return _sha(state_digest(state))


def _sha(doc: Any) -> str:
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def differences(
    a: EngineState, b: EngineState, names: tuple[str, str] = ("first", "second"), limit: int = 5
) -> list[str]:
    """What differs between two states, part by part, naming up to `limit` entries of each."""
    found = []
    left, right = section_docs(a), section_docs(b)
    for name in SECTIONS:
        x, y = left[name], right[name]
        if x == y:
            continue
        if isinstance(x, list) and isinstance(y, list):
            only_x, only_y = _only_in(x, y), _only_in(y, x)
            found.append(
                f"{name}: {len(only_x)} entries only in the {names[0]}, {len(only_y)} only in the {names[1]}; "
                f"e.g. {names[0]}: {_short(only_x[:limit])} {names[1]}: {_short(only_y[:limit])}"
            )
        else:
            found.append(f"{name}: {names[0]} {_short(x)}, {names[1]} {_short(y)}")
    return found


def _only_in(x: list[Any], y: list[Any]) -> list[Any]:
    others = {orjson.dumps(v) for v in y}
    return [v for v in x if orjson.dumps(v) not in others]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


# -- coverage ----------------------------------------------------------------------------------
# What each class holds, and where the codec keeps it. A field missing here fails at import, naming
# itself: a snapshot must never quietly drop part of the state.
COVERED: dict[type, dict[str, str]] = {
    EngineState: {name: "a section" for name in SECTIONS},
    OrderState: {name: "a column of the orders rows" for name in ORDER_FIELDS},
    RiskUsage: {
        "_exposures": "usage.exposures",
        "_accounts": "usage.accounts",
        "_resting": "usage.resting",
        "_valued_at": "usage.valued_at",
        "_symbols_of": "derived from usage.exposures",
        "_margin_rate": "reference data: given to decode",
    },
    _Stamps: {"_stamps": "stamps", "_next_sweep": "next_sweep", "window_ns": "reference data: the policy / basis"},
    MessageWindow: {"_stamps": "messages"},
    DuplicateWindow: {"_stamps": "duplicates"},
    KillSwitches: {"_firm": "kill_switches", "_by_scope": "kill_switches"},
    PendingRequest: {"kind": "", "cl_ord_id": "", "quantity": "", "limit_price": ""},
    Switch: {"scope": "", "target": "", "engaged_by": "", "reason": "", "at_ns": ""},
    Exposure: {name: "" for name in Exposure._fields},
    AccountUsage: {name: "" for name in AccountUsage._fields},
    RestingOrder: {name: "" for name in RestingOrder._fields},
    Break: {name: "a column of the breaks rows" for name in BREAK_FIELDS},
}


def held_fields(cls: type) -> set[str]:
    """The names of what an instance of `cls` holds: dataclass fields, slots or tuple fields."""
    if hasattr(cls, "_fields"):
        return set(cls._fields)
    if hasattr(cls, "__dataclass_fields__"):
        return {f.name for f in fields(cls)}
    return {name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())}


def uncovered() -> dict[str, set[str]]:
    """Fields a class holds that this codec does not account for (or accounts for but are gone)."""
    return {
        cls.__name__: held_fields(cls) ^ set(covered)
        for cls, covered in COVERED.items()
        if held_fields(cls) != set(covered)
    }


if missing := uncovered():
    raise TypeError(
        f"the snapshot codec does not cover these fields (add them to SECTIONS or COVERED, bump SCHEMA_VERSION "
        f"and add an upcaster): {missing}"
    )
