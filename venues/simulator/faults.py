"""Fault injection for the simulated venue, per FIX session, switched at runtime through Redis.

A test or an operator writes a JSON object to the bus key

    <OMS_BUS_PREFIX>:venue:<venue name>:faults:<the session's CompID>    (orders.bus.key)

e.g. `oms-test:venue:XSIM:faults:OMS`. The venue reads every session's key at most every 200 ms
and applies what it finds. No key means no faults; so does an unreachable Redis (logged once
per outage) and a value it cannot use (not a JSON object, an unknown knob, a wrong type: logged).
When the settings it applies change, the venue writes their key (below) to
`...:faults:<CompID>:loaded` ("" for none), so a test can wait until they are in force.

Knobs, all optional:

    "id": "any string"             names these settings. Counting and one-shot knobs count per
                                   id (without one, per exact JSON text): new settings with a
                                   new id start afresh; the same id again does not.
    "drop_exec_reports": N         drop the next N ExecutionReports (35=8) to the session,
                                   whatever they are: acks, fills, status answers.
    "delay_ms": M                  hold every application message to the session M ms before
                                   sending it. Messages still leave in order, from the session's
                                   own sender thread: the books are never held up.
    "duplicate_exec_reports": true send every ExecutionReport twice, with the same ExecID (17).
    "reject_all": true             answer every NewOrderSingle with ExecType=Rejected (150=8,
                                   39=8, 103=99, 58 "rejected by fault injection") and every
                                   cancel or replace with an OrderCancelReject (35=9, 102=99).
    "disconnect": true             log the session out, once per id. The session may log on
                                   again straight away.
    "drop_one_in": N               drop every Nth ExecutionReport to the session (a lossy line).
    "duplicate_one_in": N          send every Nth ExecutionReport twice.
    "disconnect_every_ms": M       log the session out every M ms, for as long as it is set.
    "symbol": "NVDA"               the drop knobs count and drop only reports about this symbol
                                   (a test's order, not another's status answer).
    "bust_next_fill": true         once per id: right after the next fill that completes one of
                                   the session's orders, bust it (150=H, 19 naming the fill,
                                   39=4: the order is not reinstated); its position loses it.
    "fill_after_cancel": true      after acknowledging a cancel of an order with open quantity,
                                   send one more Trade report (150=F, 39=2) filling all of it at
                                   the order's limit price, CumQty included: the fill that raced
                                   the cancel. The session's position (position reports) and
                                   the order's status (35=H) take the fill too.
    "unreported_fill": "ACCOUNT SYMBOL QTY"
                                   once per id: book QTY (signed: -10 sold) to the session's
                                   position in ACCOUNT and SYMBOL and report nothing: a trade the
                                   venue's books hold and the OMS was never told of. Position
                                   reports (35=AP) show it; reconciliation finds the break. The
                                   opposite quantity under a new id takes it away again.

The policy (`FaultSettings`, `SessionFaults`) is pure; `FaultLoader` is the small part that talks
to Redis and is given a client, so tests can hand it a fake.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

log = logging.getLogger("oms.simulator.faults")

REFRESH_SECONDS = 0.2


class FaultSettingsError(ValueError):
    """Settings the venue cannot use; it applies none instead."""


@dataclass(frozen=True)
class FaultSettings:
    key: str = ""  # what counting and one-shot knobs count by: the "id", else the raw JSON text
    drop_exec_reports: int = 0
    delay_ms: int = 0
    duplicate_exec_reports: bool = False
    reject_all: bool = False
    disconnect: bool = False
    fill_after_cancel: bool = False
    drop_one_in: int = 0
    duplicate_one_in: int = 0
    disconnect_every_ms: int = 0
    bust_next_fill: bool = False
    symbol: str = ""
    unreported_fill: str = ""


NO_FAULTS = FaultSettings()
_KNOBS = {f.name: f.type for f in fields(FaultSettings) if f.name != "key"}


def parse_settings(raw: str | None) -> FaultSettings:
    """The settings a key's value asks for; NO_FAULTS for no value. Raises FaultSettingsError."""
    if raw is None or not raw.strip():
        return NO_FAULTS
    try:
        data: Any = json.loads(raw)
    except ValueError as exc:
        raise FaultSettingsError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FaultSettingsError("not a JSON object")
    fault_id = data.pop("id", None)
    if fault_id is not None and not isinstance(fault_id, str | int):
        raise FaultSettingsError("id must be a string")
    values: dict[str, Any] = {}
    for name, value in data.items():
        kind = _KNOBS.get(name)
        if kind is None:
            raise FaultSettingsError(f"unknown knob {name!r}; known: id, {', '.join(_KNOBS)}")
        if kind == "int" and not (type(value) is int and value >= 0):
            raise FaultSettingsError(f"{name} must be a whole number >= 0, got {value!r}")
        if kind == "str" and not isinstance(value, str):
            raise FaultSettingsError(f"{name} must be a string, got {value!r}")
        if kind == "bool" and type(value) is not bool:
            raise FaultSettingsError(f"{name} must be true or false, got {value!r}")
        if name == "unreported_fill":
            unreported_fill(value)  # refused now, not when the venue books it
        values[name] = value
    return FaultSettings(key=str(fault_id) if fault_id is not None else raw, **values)


def unreported_fill(text: str) -> tuple[str, str, Decimal]:
    """(account, symbol, signed quantity) of an `unreported_fill` knob. Raises FaultSettingsError."""
    parts = text.split()
    if len(parts) != 3:
        raise FaultSettingsError(f"unreported_fill must be 'ACCOUNT SYMBOL QUANTITY', got {text!r}")
    account, symbol, raw = parts
    try:
        quantity = Decimal(raw)
    except InvalidOperation:
        raise FaultSettingsError(f"unreported_fill: {raw!r} is not a quantity") from None
    if not quantity.is_finite() or quantity == 0:
        raise FaultSettingsError(f"unreported_fill: the quantity must be a non-zero number, got {raw!r}")
    return account, symbol, quantity


class SessionFaults:
    """One session's faults: the settings in force and what the counting and one-shot knobs have used
    of them. Not thread-safe: the venue calls it under its lock."""

    def __init__(self) -> None:
        self.settings = NO_FAULTS
        self._dropped: dict[str, int] = {}  # settings key -> reports dropped under it
        self._disconnected: set[str] = set()  # settings keys whose disconnect has happened
        self._busted: set[str] = set()  # settings keys whose bust has happened
        self._unreported: set[str] = set()  # settings keys whose unreported fill is booked
        self._reports = 0  # ExecutionReports seen, for the one-in-N knobs
        self._last_disconnect: float | None = None

    def apply(self, settings: FaultSettings) -> None:
        self.settings = settings

    def take_drop(self, symbol: str = "") -> bool:
        """Should this ExecutionReport (about `symbol`) be dropped? Counts it when so. (Call once
        per report, before `take_copies`.)"""
        if self.settings.symbol and symbol != self.settings.symbol:
            return False
        self._reports += 1
        if self.settings.drop_one_in and self._reports % self.settings.drop_one_in == 0:
            return True
        dropped = self._dropped.get(self.settings.key, 0)
        if dropped >= self.settings.drop_exec_reports:
            return False
        self._dropped[self.settings.key] = dropped + 1
        return True

    def take_disconnect(self, now: float = 0.0) -> bool:
        """Is a disconnect due (`now`: a monotonic clock)? Once per settings key for `disconnect`;
        every `disconnect_every_ms` for that one."""
        every = self.settings.disconnect_every_ms / 1000
        if every:
            if self._last_disconnect is None:
                self._last_disconnect = now  # the period starts when the knob is first seen
            elif now - self._last_disconnect >= every:
                self._last_disconnect = now
                return True
        else:
            self._last_disconnect = None
        if not self.settings.disconnect or self.settings.key in self._disconnected:
            return False
        self._disconnected.add(self.settings.key)
        return True

    def take_bust(self) -> bool:
        """Is a bust due (`bust_next_fill`)? True once per settings key."""
        if not self.settings.bust_next_fill or self.settings.key in self._busted:
            return False
        self._busted.add(self.settings.key)
        return True

    def take_unreported_fill(self) -> tuple[str, str, Decimal] | None:
        """The unreported fill to book now, once per settings key; None when none is due."""
        if not self.settings.unreported_fill or self.settings.key in self._unreported:
            return None
        self._unreported.add(self.settings.key)
        return unreported_fill(self.settings.unreported_fill)

    def take_copies(self) -> int:
        """How many times to send this ExecutionReport (after `take_drop` said to send it)."""
        if self.settings.duplicate_exec_reports:
            return 2
        one_in = self.settings.duplicate_one_in
        return 2 if one_in and self._reports % one_in == one_in // 2 else 1

    @property
    def delay_seconds(self) -> float:
        return self.settings.delay_ms / 1000


class Redis(Protocol):
    def mget(self, keys: list[str]) -> list[str | None]: ...

    def set(self, name: str, value: str) -> Any: ...


class FaultLoader:
    """Reads the sessions' settings from Redis, one MGET for all of them. Call it off the venue's
    lock (it does I/O) and at most every REFRESH_SECONDS; it never raises."""

    def __init__(self, venue_name: str, client: Redis | None = None, key=None) -> None:
        if client is None or key is None:
            from orders import bus  # Django settings: only where the venue really runs

            client = client or bus.client()
            key = key or bus.key
        self.client = client
        self.venue_name = venue_name
        self._key = key
        self._down = False
        self._complained: set[tuple[str, str]] = set()  # (session, raw) already logged as unusable
        self._loaded: dict[str, str] = {}  # session -> key of the settings last marked loaded

    def key(self, session: str) -> str:
        return self._key(f"venue:{self.venue_name}:faults:{session}")

    def load(self, sessions: list[str]) -> dict[str, FaultSettings]:
        try:
            raws = self.client.mget([self.key(s) for s in sessions]) if sessions else []
        except Exception as exc:  # Redis down, or any client error: no faults rather than no venue
            if not self._down:
                log.warning("%s: fault settings unreadable, none applied: %s", self.venue_name, exc)
                self._down = True
            return dict.fromkeys(sessions, NO_FAULTS)
        if self._down:
            log.info("%s: fault settings readable again", self.venue_name)
            self._down = False
        loaded = {session: self._parse(session, raw) for session, raw in zip(sessions, raws)}
        self._mark_loaded(loaded)
        return loaded

    def _parse(self, session: str, raw: str | None) -> FaultSettings:
        try:
            settings = parse_settings(raw)
        except FaultSettingsError as exc:
            if (session, raw or "") not in self._complained:
                self._complained.add((session, raw or ""))
                log.warning("%s: fault settings for %s ignored: %s", self.venue_name, session, exc)
            return NO_FAULTS
        return settings

    def _mark_loaded(self, loaded: dict[str, FaultSettings]) -> None:
        for session, settings in loaded.items():
            if self._loaded.get(session) == settings.key:
                continue
            try:
                self.client.set(self.key(session) + ":loaded", settings.key)
            except Exception:
                return  # try again on the next load
            self._loaded[session] = settings.key
            if settings is not NO_FAULTS:
                log.info("%s: faults for %s: %s", self.venue_name, session, settings)
