"""The command bus: a Redis stream from every edge to the engine, and reply lists back.

A sender XADDs a command with a `reply_to` key and waits on that key (BLPOP). The engine
reads the stream in a consumer group, commits, and only then pushes the reply and XACKs,
so an unanswered command stays pending in the group and is taken up again when the engine
restarts: nothing acknowledged is lost and deduplication makes re-processing harmless.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
import redis
from django.conf import settings

from orders.domain import commands as cmd
from orders.domain.serialization import from_dict, to_dict

COMMAND_TYPES: dict[str, type] = {
    c.__name__: c
    for c in (
        cmd.SubmitOrder,
        cmd.CancelOrder,
        cmd.ReplaceOrder,
        cmd.ApplyExecutionReport,
        cmd.ApplyCancelReject,
        cmd.ChangeRiskLimits,
        cmd.ChangeInstrumentRisk,
        cmd.EngageKillSwitch,
        cmd.ReleaseKillSwitch,
        cmd.RecordReconciliation,
        cmd.ResolveReconciliationBreak,
        cmd.ExpireDayOrders,
    )
}
GROUP = "engine"
REPLY_TTL_SECONDS = 60


class EngineUnavailable(Exception):
    """No reply in time: the engine is down, recovering, or overloaded. Retrying is safe."""


def key(name: str) -> str:
    return f"{settings.OMS_BUS_PREFIX}:{name}"


def commands_stream() -> str:
    return key("commands")


@cache
def _client(url: str) -> redis.Redis:
    # No read timeout: a sender blocks in BLPOP for as long as *it* chooses (its own timeout);
    # a connect timeout still fails fast when Redis is down.
    return redis.Redis.from_url(
        url, decode_responses=True, health_check_interval=30, socket_timeout=None, socket_connect_timeout=2
    )


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def now_ns() -> int:
    return time.time_ns()


def new_command_id() -> str:
    return uuid.uuid4().hex


def encode(command: cmd.Command, reply_to: str | None, *, with_order: bool = False) -> str:
    """`with_order`: the reply carries the order as committed (its projection row, `order`), so the
    sender need not read it back."""
    envelope = {"type": type(command).__name__, "reply_to": reply_to, "command": to_dict(command)}
    if with_order:
        envelope["with_order"] = True
    return orjson.dumps(envelope).decode()


@dataclass(frozen=True, slots=True)
class Envelope:
    entry_id: str  # the stream entry, for XACK
    command: cmd.Command | None  # None when it could not be decoded
    reply_to: str | None
    error: str = ""
    raw: str = ""  # the entry as it came, for the dead-letter stream
    with_order: bool = False  # the sender wants the order in the reply


def decode(entry_id: str, fields: dict[str, str]) -> Envelope:
    try:
        data = orjson.loads(fields["c"])
        command = from_dict(COMMAND_TYPES[data["type"]], data["command"])
        with_order = bool(data.get("with_order"))
        return Envelope(entry_id, command, data.get("reply_to"), raw=fields["c"], with_order=with_order)
    except Exception as exc:  # a malformed entry must not stop the engine: it is answered and dropped
        reply_to = None
        try:
            reply_to = json.loads(fields.get("c", "{}")).get("reply_to")
        except (ValueError, AttributeError):
            pass
        return Envelope(entry_id, None, reply_to, f"malformed command: {exc!r}", raw=str(fields.get("c", "")))


def send(command: cmd.Command, timeout: float | None = None, *, with_order: bool = False) -> dict[str, Any]:
    """Put a command on the bus and wait for the engine's answer, sent after its commit.

    Raises EngineUnavailable when no answer comes within `timeout` seconds.
    """
    timeout = settings.OMS_ENGINE_REPLY_TIMEOUT if timeout is None else timeout
    reply_to = key(f"reply:{command.command_id}")
    r = client()
    try:
        # One round trip: the command, then the wait for its answer on the same connection.
        pipe = r.pipeline(transaction=False)
        pipe.xadd(commands_stream(), {"c": encode(command, reply_to, with_order=with_order)})
        pipe.blpop([reply_to], timeout=timeout)
        _, answer = pipe.execute()
    except redis.RedisError as exc:
        raise EngineUnavailable(f"command bus unreachable: {exc}") from exc
    if answer is None:
        raise EngineUnavailable(f"no answer from the engine within {timeout:g}s")
    return orjson.loads(answer[1])


async def asend(command: cmd.Command, timeout: float | None = None, *, with_order: bool = False) -> dict[str, Any]:
    """`send` on the event loop: no thread waits while the engine answers (the web's order entry)."""
    from orders.edge import aclient  # one client per event loop

    timeout = settings.OMS_ENGINE_REPLY_TIMEOUT if timeout is None else timeout
    reply_to = key(f"reply:{command.command_id}")
    try:
        async with aclient().pipeline(transaction=False) as pipe:
            pipe.xadd(commands_stream(), {"c": encode(command, reply_to, with_order=with_order)})
            pipe.blpop([reply_to], timeout=timeout)
            _, answer = await pipe.execute()
    except redis.RedisError as exc:
        raise EngineUnavailable(f"command bus unreachable: {exc}") from exc
    if answer is None:
        raise EngineUnavailable(f"no answer from the engine within {timeout:g}s")
    return orjson.loads(answer[1])


def send_many(commands: list[cmd.Command], timeout: float | None = None) -> list[dict[str, Any]]:
    """`send` for many commands at once: all put on the bus in one round trip, then each answer
    awaited, in order. The engine takes them in as few batches as it can (a drill, a bench).

    Raises EngineUnavailable when an answer does not come within `timeout` seconds."""
    timeout = settings.OMS_ENGINE_REPLY_TIMEOUT if timeout is None else timeout
    answers = [answer for answer in send_each(commands, timeout) if answer is not None]
    if len(answers) < len(commands):
        raise EngineUnavailable(f"no answer from the engine within {timeout:g}s")
    return answers


def send_each(commands: list[cmd.Command], timeout: float | None = None) -> list[dict[str, Any] | None]:
    """`send_many`, where a command the engine has not answered within `timeout` seconds of the
    send gets None and the others their answers. Raises EngineUnavailable when the bus is unreachable."""
    timeout = settings.OMS_ENGINE_REPLY_TIMEOUT if timeout is None else timeout
    r = client()
    replies = [key(f"reply:{command.command_id}") for command in commands]
    answers: list[str | None] = [None] * len(replies)
    if not commands:
        return []
    try:
        deadline = time.monotonic() + timeout
        pipe = r.pipeline(transaction=False)
        for command, reply_to in zip(commands, replies, strict=True):
            pipe.xadd(commands_stream(), {"c": encode(command, reply_to)})
        # The wait for the first answer in the same round trip, as `send`'s: a lone command (a
        # venue's report, most often) costs one round trip to Redis, not two.
        pipe.blpop([replies[0]], timeout=max(0.01, timeout))
        first = pipe.execute()[-1]
        waiting = list(range(len(replies)))  # the commands not answered yet, in order
        if first is not None:
            answers[waiting.pop(0)] = first[1]
        while waiting:
            left = deadline - time.monotonic()
            if left > 0:
                popped = r.blpop([replies[waiting[0]]], timeout=max(0.01, left))
                if popped is None:
                    continue
                answers[waiting.pop(0)] = popped[1]
            # The engine answers a batch at once: take every answer there already in one round trip.
            pipe = r.pipeline(transaction=False)
            for i in waiting:
                pipe.lpop(replies[i])
            found = pipe.execute() if waiting else []
            for i, answer in zip(waiting, found, strict=True):
                answers[i] = answer
            waiting = [i for i in waiting if answers[i] is None]
            if left <= 0:
                break  # past the deadline: only what was there
    except redis.RedisError as exc:
        raise EngineUnavailable(f"command bus unreachable: {exc}") from exc
    return [json.loads(answer) if answer is not None else None for answer in answers]


def engine_health() -> dict[str, Any] | None:
    raw = client().get(key("engine:health"))
    return json.loads(raw) if raw else None
