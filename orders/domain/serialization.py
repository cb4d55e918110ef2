"""Events to and from JSON-ready dicts, with schema versions and upcasting.

Decimals travel as strings (never floats), enums as their values. Every stored payload
carries the schema version it was written with; reading an older version runs its
upcasters in order until it reaches the current one, so old logs stay readable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, get_args, get_origin, get_type_hints

from reconciliation.domain.events import RECONCILIATION_EVENT_TYPES
from risk.domain.events import RISK_EVENT_TYPES

from . import events as ev
from .fast_build import positional_builder
from .values import ExecType, OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce

# Bump an event's version when its payload changes shape, and add an upcaster from the old one.
# Risk control events (risk/domain/events.py) and reconciliation events
# (reconciliation/domain/events.py) share the log and this codec.
EVENT_TYPES: dict[str, type] = ev.EVENT_TYPES | RISK_EVENT_TYPES | RECONCILIATION_EVENT_TYPES
SCHEMA_VERSIONS: dict[str, int] = {name: 1 for name in EVENT_TYPES} | {
    "OrderAccepted": 3,
    "OrderAcknowledged": 2,
    "OrderRejected": 2,
    "OrderCancelRejected": 2,
    "OrderReplaceRejected": 2,
    "OrderExpired": 2,
    "OrderCancelRequested": 2,
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _accepted_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    # v1 orders were accepted before the OMS routed to venues: no venue, no parent, no children
    return {**payload, "venue": None, "parent_id": None, "strategy": None}


def _acknowledged_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    # v1 did not keep the venue's OrderID (37): those orders are named by ClOrdID alone
    return {**payload, "venue_order_id": None}


def _accepted_v2_to_v3(payload: dict[str, Any]) -> dict[str, Any]:
    # v2 orders were accepted before the risk checks recorded what they saw
    return {**payload, "risk": None}


def _no_details(payload: dict[str, Any]) -> dict[str, Any]:
    # v1 refusals did not record what the pre-trade check saw
    return {**payload, "details": []}


def _expired_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    # v1 expiries were the venue's alone and kept no text
    return {**payload, "text": ""}


def _cancel_requested_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    # v1 cancel requests were all a client's (or a kill switch's), with no text of their own
    return {**payload, "text": ""}


# (event type, version it reads) -> function returning the payload at version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("OrderAccepted", 1): _accepted_v1_to_v2,
    ("OrderAcknowledged", 1): _acknowledged_v1_to_v2,
    ("OrderAccepted", 2): _accepted_v2_to_v3,
    ("OrderRejected", 1): _no_details,
    ("OrderCancelRejected", 1): _no_details,
    ("OrderReplaceRejected", 1): _no_details,
    ("OrderExpired", 1): _expired_v1_to_v2,
    ("OrderCancelRequested", 1): _cancel_requested_v1_to_v2,
}


class UnknownEvent(Exception):
    pass


def _decoder(annotation: Any) -> Callable[[Any], Any]:
    if get_origin(annotation) is tuple:  # tuple[Item, ...]: a JSON list of items
        item = _decoder(get_args(annotation)[0])
        return lambda values: tuple(item(v) for v in values)
    if isinstance(annotation, type) and is_dataclass(annotation):
        cls: type = annotation
        return lambda data: from_dict(cls, data)
    optional = [a for a in get_args(annotation) if a is not type(None)]
    if len(optional) == 1 and is_dataclass(optional[0]):  # Record | None
        return _or_none(_decoder(optional[0]))
    text = str(annotation)
    if "Decimal" in text:
        return lambda value: None if value is None else Decimal(value)
    for enum_type in (Side, OrderType, TimeInForce, ExecType, OrdStatus, Strategy, RequestKind):
        if enum_type.__name__ in text:
            # the value -> member map: what Enum(value) looks up, without its call overhead
            lookup: Callable[[Any], Any] = enum_type._value2member_map_.__getitem__
            return _or_none(lookup) if "None" in text else lookup
    return _identity


def _or_none(decode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else decode(value)


def _identity(value: Any) -> Any:
    return value


_FIELDS: dict[type, tuple[tuple[str, Callable[[Any], Any]], ...]] = {}


def _fields_of(cls: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    known = _FIELDS.get(cls)
    if known is None:
        hints = get_type_hints(cls)
        known = _FIELDS[cls] = tuple((f.name, _decoder(hints[f.name])) for f in fields(cls))
    return known


def _encode_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # plain digits, never an exponent ("1E-8")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode_value(v) for v in value]
    if is_dataclass(value):
        return to_dict(value)
    return value


def event_to_payload(event: ev.Event) -> dict[str, Any]:
    """The event's fields, minus its stream id and `at_ns`, which the log stores in columns."""
    return {
        name: _encode_value(getattr(event, name)) for name, _ in _fields_of(type(event)) if name not in STREAM_COLUMNS
    }


def event_from_payload(
    event_type: str, schema_version: int, payload: dict[str, Any], *, order_id: int, at_ns: int
) -> ev.Event:
    """The event a stored payload records, upcast to the current version. Raises UnknownEvent,
    KeyError (a field missing), ValueError / InvalidOperation (a value of the wrong kind)."""
    decode = _FAST_DECODERS.get(event_type)
    if decode is None:
        raise UnknownEvent(event_type)
    if schema_version < SCHEMA_VERSIONS[event_type]:
        payload = upcast(event_type, schema_version, payload)
    return decode(order_id, at_ns, payload)


def event_from_payload_by_constructor(
    event_type: str, schema_version: int, payload: dict[str, Any], *, order_id: int, at_ns: int
) -> ev.Event:
    """`event_from_payload` through each class's own constructor and the generic field decoders:
    the plain definition the fast decoders must equal (tests/unit/test_serialization.py)."""
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise UnknownEvent(event_type)
    payload = upcast(event_type, schema_version, payload)
    # Every event's first two fields are its stream id and at_ns, which the log keeps in columns.
    return cls(order_id, at_ns, *[decode(payload[name]) for name, decode in _PAYLOAD_FIELDS[cls]])


STREAM_COLUMNS = ("order_id", "stream_id", "at_ns")
_PAYLOAD_FIELDS = {cls: _fields_of(cls)[2:] for cls in EVENT_TYPES.values()}
for _cls in EVENT_TYPES.values():
    if [f.name for f in fields(_cls)][:2] not in (["order_id", "at_ns"], ["stream_id", "at_ns"]):
        raise TypeError(f"{_cls.__name__} must begin with its stream id (order_id or stream_id) and at_ns")


# -- the fast decoders: what a replay runs per stored event ---------------------------------
#
# Per event type, one generated function `decode(stream_id, at_ns, payload)` that reads each
# field straight into its type (Decimal(text), the enum member by value, nested records the same
# way) and builds the event with fast_build: no per-field decoder calls, no frozen __init__.
# Equal, field by field and type by type, to `event_from_payload_by_constructor` (tested with
# Hypothesis over every event type); stored payloads are trusted to be the log's own, but a
# missing field or a malformed value still raises as above.


def _value_expression(annotation: Any, value: str, scope: dict[str, Any]) -> str:
    """Python source for the decoded form of `value` (an expression reading the payload)."""
    origin = get_origin(annotation)
    if origin is tuple:  # tuple[Item, ...]: a JSON list of items
        item_name = f"item{len(scope)}"
        item = _value_expression(get_args(annotation)[0], item_name, scope)
        return f"tuple([{item} for {item_name} in {value}])"
    if origin is not None and type(None) in get_args(annotation):  # X | None
        (present,) = [a for a in get_args(annotation) if a is not type(None)]
        inner = _value_expression(present, "v", scope)
        if inner == "v":
            return value
        name = f"or_none{len(scope)}"  # a function binds the read value once; only X | None pays for it
        scope[name] = _compile_lambda(f"lambda v: None if v is None else {inner}", scope)
        return f"{name}({value})"
    if annotation is Decimal:
        return f"Decimal({value})"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        name = f"members_of_{annotation.__name__}"
        scope[name] = annotation._value2member_map_
        return f"{name}[{value}]"
    if isinstance(annotation, type) and is_dataclass(annotation):
        name = f"record_{annotation.__name__}"
        if name not in scope:
            scope[name] = _record_decoder(annotation)
        return f"{name}({value})"
    return value


def _compile_lambda(source: str, scope: dict[str, Any]) -> Callable[..., Any]:
    return eval(source, scope)  # generated from type hints, not from data


def _decoder_scope() -> dict[str, Any]:
    return {"Decimal": Decimal, "__builtins__": __builtins__}


def _record_decoder(cls: type) -> Callable[[dict[str, Any]], Any]:
    """A nested record (RiskCheckRecord, RoutedChild...) from its dict, as `from_dict` reads it:
    a field missing from the dict takes its default."""
    hints = get_type_hints(cls)
    scope = _decoder_scope()
    scope["build"] = positional_builder(cls)
    arguments = []
    for f in fields(cls):
        read = f"d[{f.name!r}]"
        if f.default is not MISSING:
            scope[f"default_{f.name}"] = f.default
            read = f"d.get({f.name!r}, default_{f.name})"
        elif f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: default factories are not supported here")
        arguments.append(_value_expression(hints[f.name], read, scope))
    return _compile_lambda(f"lambda d: build({', '.join(arguments)})", scope)


def _event_decoder(cls: type) -> Callable[[int, int, dict[str, Any]], Any]:
    hints = get_type_hints(cls)
    scope = _decoder_scope()
    scope["build"] = positional_builder(cls)
    arguments = [_value_expression(hints[f.name], f"p[{f.name!r}]", scope) for f in fields(cls)[2:]]
    return _compile_lambda(f"lambda stream_id, at_ns, p: build(stream_id, at_ns, {', '.join(arguments)})", scope)


_FAST_DECODERS: dict[str, Callable[[int, int, dict[str, Any]], Any]] = {
    name: _event_decoder(cls) for name, cls in EVENT_TYPES.items()
}


def upcast(event_type: str, schema_version: int, payload: dict[str, Any]) -> dict[str, Any]:
    current = SCHEMA_VERSIONS[event_type]
    while schema_version < current:
        payload = UPCASTERS[(event_type, schema_version)](payload)
        schema_version += 1
    return payload


def to_dict(obj: Any) -> dict[str, Any]:
    """Any domain dataclass (a command, say) as a JSON-ready dict."""
    return {name: _encode_value(getattr(obj, name)) for name, _ in _fields_of(type(obj))}


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """The inverse of `to_dict`. Raises KeyError / ValueError / InvalidOperation on bad data."""
    return cls(**{name: decode(data[name]) for name, decode in _fields_of(cls) if name in data})
