"""The blotter's websocket, `/ws/blotter/` (docs/blotter.md).

On connect: `hello`, then a `snapshot` (or, with `?after=N`, every change after N read from the
log, then `caught_up`), then what the feed sends. The consumer joins its groups before it reads
anything, so nothing committed in between is missed: frames that arrive meanwhile wait in the
channel layer and are handled after, their messages already sent skipped by position.

Per group it keeps `covered`: the position up to which it has everything that group carries.
A frame or heartbeat whose `prev` is above it (or None: the feed restarted) shows a gap, and the
consumer reads the gap from the log itself. A heartbeat tells the client the lowest position
covered over all its groups: everything up to it was sent, the place to resume from.

Frames are sent to the client as JSON arrays of messages; single messages as objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from blotter import snapshot
from blotter.groups import ALL, PUBLIC, account_group, user_group
from blotter.messages import OrderStates, messages_for
from orders import store

log = logging.getLogger("oms.blotter")

UNAUTHENTICATED = 4401
CHUNK = 2000  # events read from the log at a time in a catch-up
FRAME_MESSAGES = 500  # messages per websocket frame: an order's is under 1 kB, a frame under 1 MiB


@dataclass(frozen=True)
class Viewer:
    username: str
    accounts: frozenset[str] | None  # None: every account (risk, compliance)
    hello: dict[str, Any]


class BlotterConsumer(AsyncJsonWebsocketConsumer):
    viewer: Viewer
    covered: dict[str, int]
    safe = 0  # the last heartbeat position told to the client

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.viewer = await database_sync_to_async(viewer_of)(user)
        self.covered = {}
        groups = [PUBLIC, user_group(self.viewer.username)]
        groups += [ALL] if self.viewer.accounts is None else [account_group(a) for a in sorted(self.viewer.accounts)]
        for group in groups:  # before reading anything: what commits from now on reaches us
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        position = await database_sync_to_async(store.last_position)()
        await self.send_json({"type": "hello", "position": position, "user": self.viewer.hello})
        after = _after(self.scope.get("query_string", b""))
        if after is not None and 0 <= after <= position and position - after <= settings.OMS_BLOTTER_MAX_REPLAY:
            await self._catch_up(after, position)
            await self.send_json({"type": "caught_up", "position": position})
        else:
            taken = await database_sync_to_async(snapshot.take)(self.viewer.accounts, self.viewer.username)
            position = taken["position"]
            for part in snapshot.parts(taken):
                await self.send_json(part)
        self.covered = dict.fromkeys(groups, position)
        self.safe = position

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "covered", {}):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        pass  # the client sends nothing; actions go through the REST API

    # -- from the feed ----------------------------------------------------------------------------

    async def blotter_frame(self, frame: dict[str, Any]) -> None:
        if not await self._in_chain(frame):
            return
        covered = self.covered[frame["group"]]
        await self._send_messages([m for m in frame["messages"] if m["position"] > covered])
        self.covered[frame["group"]] = max(covered, frame["upto"])

    async def blotter_heartbeat(self, frame: dict[str, Any]) -> None:
        if not await self._in_chain(frame):
            return
        group = frame["group"]
        self.covered[group] = max(self.covered[group], frame["upto"])
        safe = min(self.covered.values())
        if safe > self.safe:
            self.safe = safe
        await self.send_json({"type": "heartbeat", "position": self.safe})

    async def blotter_market(self, message: dict[str, Any]) -> None:
        await self.send_json({**message, "type": "market"})

    async def blotter_usage(self, message: dict[str, Any]) -> None:
        await self.send_json({**message, "type": "usage"})

    async def _in_chain(self, frame: dict[str, Any]) -> bool:
        """False for a frame of a group we are not in (yet): it is covered by what we read. A gap
        is read from the log here, and the frame is then covered."""
        group = frame["group"]
        covered = self.covered.get(group)
        if covered is None:
            return False
        prev = frame["prev"]
        if prev is None or prev > covered:
            log.info("%s: %s missed frames after %d (prev %s); reading them from the log", self.viewer.username,
                     group, covered, prev)  # fmt: skip
            await self._catch_up(covered, frame["upto"])
            for name in self.covered:  # the catch-up read every group's messages
                self.covered[name] = max(self.covered[name], frame["upto"])
            if frame["type"] == "blotter.frame":
                return False
        return True

    async def _catch_up(self, after: int, until: int) -> None:
        """Every message for this viewer with after < position <= until, from the log."""
        states = OrderStates()
        while after < until:
            batch, messages = await database_sync_to_async(self._read)(after, until, states)
            if not batch:
                return
            await self._send_messages(messages)
            after = batch[-1].position

    async def _send_messages(self, messages: list[dict[str, Any]]) -> None:
        """As frames of at most FRAME_MESSAGES: a websocket message is at most 1 MiB (daphne)."""
        for start in range(0, len(messages), FRAME_MESSAGES):
            await self.send_json(messages[start : start + FRAME_MESSAGES])

    def _read(self, after: int, until: int, states: OrderStates) -> tuple[list, list[dict[str, Any]]]:
        accounts = None if self.viewer.accounts is None else sorted(self.viewer.accounts)
        batch = store.read_range(after, until, CHUNK, accounts=accounts)
        if not batch:
            return batch, []
        outgoing = messages_for(batch, states)
        return batch, [o.message for o in outgoing if o.for_user(self.viewer.accounts, self.viewer.username)]


def _after(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get("after")
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        return None  # not a position: a snapshot


def viewer_of(user: Any) -> Viewer:
    from orders import services as order_services
    from risk import services as risk_services

    sees_all = user.has_perm(order_services.VIEW_ALL)
    visible = sorted(order_services.accounts_for_user(user).values_list("code", flat=True))
    granted = sorted(user.accounts.filter(active=True).values_list("code", flat=True))
    manages_risk = risk_services.may_manage_risk(user)
    role = "admin" if user.is_superuser else "risk" if manages_risk else "compliance" if sees_all else "trader"
    hello = {
        "username": user.get_username(), "role": role, "accounts": visible, "granted": granted,
        "sees_all": sees_all, "may_trade": bool(granted), "may_engage": manages_risk or bool(granted),
        "may_release": manages_risk, "risk": manages_risk or sees_all,
    }  # fmt: skip
    return Viewer(user.get_username(), None if sees_all else frozenset(visible), hello)
