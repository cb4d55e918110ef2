"""The client FIX gateway's heartbeat: what health and admin know of it.

The gateway writes it every HEARTBEAT_SECONDS with a TTL, so a gateway that dies (kill -9
included) is reported gone within HEALTH_TTL_SECONDS."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from orders import bus

HEARTBEAT_SECONDS = 1.0
HEALTH_TTL_SECONDS = 3


def _key() -> str:
    return bus.key("gateway:health")


def publish(comp_id: str, port: int, sessions: dict[str, str]) -> None:
    """`sessions`: each client CompID with "logged_on" or "logged_out"."""
    payload = {"pid": os.getpid(), "comp_id": comp_id, "port": port, "sessions": sessions, "at_ns": time.time_ns()}
    bus.client().set(_key(), json.dumps(payload), ex=HEALTH_TTL_SECONDS)


def clear() -> None:
    """A gateway stopping says so at once (a killed one by its heartbeat's expiry)."""
    bus.client().delete(_key())


def read() -> dict[str, Any] | None:
    raw = bus.client().get(_key())
    return json.loads(raw) if raw else None


def component() -> str:
    """ "ok", or why not (Redis failures are the caller's: health reports Redis itself)."""
    heartbeat = read()
    if heartbeat is None:
        return "not running (no heartbeat)"
    return "ok"
