"""The event store: append (engine only), read by stream, by position, and stream for replay.

Appending sends `events_appended` inside the caller's transaction, once per batch, so the
projection receivers update the read models in the same commit as the events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from django.db import connection
from django.dispatch import Signal

from orders.domain import events as ev
from orders.domain.serialization import SCHEMA_VERSIONS, event_from_payload, event_to_payload
from orders.domain.state import OrderState
from reconciliation.domain.events import RECONCILIATION_STREAM, ReconciliationEvent
from risk.domain.events import RISK_STREAM, RiskEvent

ORDER_STREAM = "order"

# Sent by `append` inside the engine's transaction, and by rebuild_projections, with
# `events=list[StoredEvent]` in log order. Receivers update read models only: no network,
# no Channels, no Celery (those tail the committed log instead).
events_appended = Signal()

COLUMNS = (
    "position",
    "stream_type",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "payload",
    "account",
    "occurred_at_ns",
    "recorded_at_ns",
    "actor",
    "command_id",
)


@dataclass(slots=True)
class StoredEvent:
    position: int
    stream_type: str
    stream_id: int
    stream_version: int
    event_type: str
    schema_version: int
    payload: dict[str, Any]
    account: str
    occurred_at_ns: int
    recorded_at_ns: int
    actor: str
    command_id: str
    _event: ev.Event | None = field(default=None, repr=False, compare=False)
    # The engine has already folded this event; it hands the resulting order state along so
    # that the live projection need not load and fold again. Never stored: a rebuild folds.
    state_after: OrderState | None = field(default=None, repr=False, compare=False)

    @property
    def event(self) -> ev.Event:
        """The domain event (upcast to the current schema when it was stored by an older one)."""
        if self._event is None:
            self._event = event_from_payload(
                self.event_type,
                self.schema_version,
                self.payload,
                order_id=self.stream_id,
                at_ns=self.occurred_at_ns,
            )
        return self._event

    @classmethod
    def for_order(
        cls,
        event: ev.Event,
        *,
        position: int,
        version: int,
        account: str,
        recorded_at_ns: int,
        actor: str,
        command_id: str,
        state_after: OrderState | None = None,
    ) -> StoredEvent:
        return cls._of(event, ORDER_STREAM, event.order_id, position, version, account, recorded_at_ns, actor,
                       command_id, state_after)  # fmt: skip

    @classmethod
    def for_risk(
        cls, event: RiskEvent, *, position: int, version: int, recorded_at_ns: int, actor: str, command_id: str
    ) -> StoredEvent:
        """A risk control event, on the risk stream. Its account column names the account it is
        about (limits, an account's kill switch), so a per-account view of the log shows it."""
        account = getattr(event, "account", None)
        if account is None and getattr(event, "scope", None) == "account":
            account = getattr(event, "target", None)
        return cls._of(event, RISK_STREAM, event.stream_id, position, version, account or "", recorded_at_ns, actor,
                       command_id)  # fmt: skip

    @classmethod
    def for_reconciliation(
        cls,
        event: ReconciliationEvent,
        *,
        position: int,
        version: int,
        account: str,
        recorded_at_ns: int,
        actor: str,
        command_id: str,
    ) -> StoredEvent:
        """A reconciliation event, on its break's stream; the account column names the break's account."""
        return cls._of(event, RECONCILIATION_STREAM, event.stream_id, position, version, account, recorded_at_ns,
                       actor, command_id)  # fmt: skip

    @classmethod
    def _of(
        cls,
        event: Any,
        stream_type: str,
        stream_id: int,
        position: int,
        version: int,
        account: str,
        recorded_at_ns: int,
        actor: str,
        command_id: str,
        state_after: OrderState | None = None,
    ) -> StoredEvent:
        """An event about to be appended, at `position`, the `version`th of its stream."""
        name = type(event).__name__
        return cls(
            position=position,
            stream_type=stream_type,
            stream_id=stream_id,
            stream_version=version,
            event_type=name,
            schema_version=SCHEMA_VERSIONS[name],
            payload=event_to_payload(event),
            account=account,
            occurred_at_ns=event.at_ns,
            recorded_at_ns=recorded_at_ns,
            actor=actor,
            command_id=command_id,
            _event=event,
            state_after=state_after,
        )

    @classmethod
    def from_row(cls, row: tuple) -> StoredEvent:
        payload = row[6]
        if isinstance(payload, str):  # Django's psycopg setup loads jsonb as text
            payload = orjson.loads(payload)
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], payload, *row[7:])


def append(events: list[StoredEvent]) -> None:
    """Write a batch with COPY and let the projections follow.

    Precondition: inside the engine's transaction, holding the writer lock; positions are
    consecutive after the last one in the log (the primary key refuses anything else).
    """
    if not events:
        return
    rows = [
        (
            e.position,
            e.stream_type,
            e.stream_id,
            e.stream_version,
            e.event_type,
            e.schema_version,
            orjson.dumps(e.payload).decode(),
            e.account,
            e.occurred_at_ns,
            e.recorded_at_ns,
            e.actor,
            e.command_id,
        )
        for e in events
    ]
    small = len(rows) <= SMALL_BATCH
    if small and all(e.stream_type == ORDER_STREAM for e in events):
        # A few order events (an engine that is not loaded): the events and the order projection's
        # rows in one pipeline, one round trip to the server (the transaction's BEGIN with them),
        # where each statement on its own would take one. Latency, not throughput, is what counts
        # then. (Not the risk and reconciliation projections': the ORM reads a row count at once,
        # which a pipeline gives only at its end.)
        connection.ensure_connection()
        with connection.connection.pipeline(), connection.cursor() as cursor:
            cursor.cursor.executemany(_INSERT, rows)
            events_appended.send(sender=StoredEvent, events=events)
        return
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor, for COPY
        if small:
            raw.executemany(_INSERT, rows)  # one pipelined round trip, where COPY takes three
        else:
            with raw.copy(f"COPY events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    events_appended.send(sender=StoredEvent, events=events)


SMALL_BATCH = 32
_INSERT = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"


# The payload read as text and parsed with orjson (`from_row`): the jsonb loader Django's psycopg
# setup registers is Python, and reading the log spent about half its time there.
_SELECT = "SELECT " + ", ".join("payload::text" if c == "payload" else c for c in COLUMNS) + " FROM events"


def _rows(sql: str, params: list) -> list[StoredEvent]:
    # A plain psycopg cursor on Django's connection (and transaction): replay reads millions
    # of rows, and Django's cursor wrapper (client-side binding, debug logging) costs per row.
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        from_row = StoredEvent.from_row
        return [from_row(row) for row in cursor.fetchall()]


def read_stream(stream_id: int, stream_type: str = ORDER_STREAM) -> list[StoredEvent]:
    return _rows(
        f"{_SELECT} WHERE stream_type = %s AND stream_id = %s ORDER BY stream_version", [stream_type, stream_id]
    )


def read_streams_before(stream_ids: list[int], before: int, stream_type: str = ORDER_STREAM) -> list[StoredEvent]:
    """The events of these streams before `before`, in position order: their history up to a point."""
    return _rows(
        f"{_SELECT} WHERE stream_type = %s AND stream_id = ANY(%s) AND position < %s ORDER BY position",
        [stream_type, stream_ids, before],
    )


def read_range(after: int, until: int | None = None, limit: int = 10_000, *,
               accounts: list[str] | None = None) -> list[StoredEvent]:  # fmt: skip
    """Events with after < position <= until, in order, at most `limit`; with `accounts`, only
    those accounts' order events (and every event of the other streams)."""
    if accounts is not None:
        return _rows(
            f"{_SELECT} WHERE position > %s AND position <= %s AND (account = ANY(%s) OR stream_type <> %s) "
            "ORDER BY position LIMIT %s",
            [after, until if until is not None else 2**62, accounts, ORDER_STREAM, limit],
        )
    if until is None:
        return _rows(f"{_SELECT} WHERE position > %s ORDER BY position LIMIT %s", [after, limit])
    return _rows(f"{_SELECT} WHERE position > %s AND position <= %s ORDER BY position LIMIT %s", [after, until, limit])


def iter_batches(after: int = 0, until: int | None = None, batch_size: int = 10_000) -> Iterator[list[StoredEvent]]:
    """The log in position order, a batch at a time: replay without holding it all in memory."""
    while True:
        batch = read_range(after, until, batch_size)
        if not batch:
            return
        yield batch
        after = batch[-1].position


def last_position() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(position), 0) FROM events")
        return cursor.fetchone()[0]
