"""What the web's order entry reads on every request, kept in each web worker's memory: API
tokens (whose user a key names) and the reference data a new order is checked against (known
symbols, active venues, the accounts granted to a user). Order entry then reads the database only
when something changed.

How a change reaches every worker:
- a save or delete of an Account, a grant, an Instrument, a Venue, a Token or a User (admin, the
  API, management commands: anything through the ORM) clears this worker's cache at once and,
  once committed, bumps a version on Redis; every worker compares that version at most every
  CHECK_SECONDS and clears its cache when it moved;
- whatever bypasses the ORM's signals (a queryset `.update()`, SQL) is seen after MAX_AGE_SECONDS;
- a token is trusted for TOKEN_SECONDS at most: a revoked token (deleted, or its user deactivated)
  stops working within that, whatever path removed it.

The engine checks every order again against its own reference data: this cache only decides what a
client hears early (a 400 naming the field), never what trades.

Sync callers (DRF's views, in a thread) use `lookups_for` and `token`; async ones (the order-entry
view, on the event loop) `alookups_for` and `atoken`, which read the database off the loop.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from rest_framework.authtoken.models import Token

from orders import bus
from orders.models import Account, Instrument
from venues.models import Venue

CHECK_SECONDS = 0.1  # how often a worker asks Redis whether reference data changed
MAX_AGE_SECONDS = 5.0  # reference data older than this is read again, changed or not
TOKEN_SECONDS = 1.0  # a token (and its user) is read again after this


@dataclass(frozen=True, slots=True)
class Lookups:
    """The reference data one request is checked against: one consistent snapshot."""

    symbols: frozenset[str]
    venues: frozenset[str]  # active ones
    grants: Mapping[str, bool]  # the user's granted accounts: code -> active

    def symbol_known(self, symbol: str) -> bool:
        return symbol in self.symbols

    def venue_active(self, name: str) -> bool:
        return name in self.venues

    def may_trade(self, code: str, *, require_active: bool = True) -> bool:
        active = self.grants.get(code)
        return active is not None and (active or not require_active)


@dataclass(frozen=True, slots=True)
class TokenEntry:
    user: Any  # None: no such token
    token: Token | None
    until: float


def _version_key() -> str:
    return bus.key("edge:version")


class EdgeCache:
    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything (this worker). Each piece is replaced, never changed in place: a
        reader holding the old one keeps a consistent snapshot."""
        self._reference: tuple[frozenset[str], frozenset[str]] | None = None
        self._grants: dict[int, Mapping[str, bool]] = {}
        self._sees_all: dict[int, bool] = {}
        self._tokens: dict[str, TokenEntry] = {}
        self._loading: dict[str, asyncio.Task] = {}
        self._loaded_at = time.monotonic()
        self._checked_at = time.monotonic()
        self._version: str | None = None

    # -- freshness --------------------------------------------------------------------------

    def _due(self) -> bool:
        """Time to read the version: every CHECK_SECONDS, and before anything is read after a clear
        (so what is read then is at least as new as the version it is kept under)."""
        now = time.monotonic()
        if now - self._loaded_at > MAX_AGE_SECONDS:
            self.clear()
        return self._version is None or now - self._checked_at > CHECK_SECONDS

    def _seen(self, version: str | None) -> None:
        version = version or "0"  # never bumped yet
        if version != self._version:
            if self._version is not None:
                self.clear()
            self._version = version
        self._checked_at = time.monotonic()

    def _check(self) -> None:
        if self._due():
            try:
                self._seen(bus.client().get(_version_key()))
            except redis.RedisError:
                self.clear()  # cannot tell: read again

    async def _acheck(self) -> None:
        if self._due():
            try:
                self._seen(await aclient().get(_version_key()))
            except redis.RedisError:
                self.clear()

    # -- reference data ---------------------------------------------------------------------

    def _load_reference(self) -> tuple[frozenset[str], frozenset[str]]:
        symbols = frozenset(Instrument.objects.values_list("symbol", flat=True))
        venues = frozenset(Venue.objects.filter(active=True).values_list("name", flat=True))
        return symbols, venues

    @staticmethod
    def _load_grants(user_id: int) -> Mapping[str, bool]:
        return dict(Account.objects.filter(users=user_id).values_list("code", "active"))

    def lookups_for(self, user: Any) -> Lookups:
        self._check()
        reference = self._reference
        if reference is None:
            reference = self._reference = self._load_reference()
        grants = self._grants.get(user.pk) if user.is_authenticated else {}
        if grants is None:
            grants = self._grants[user.pk] = self._load_grants(user.pk)
        return Lookups(*reference, grants)

    async def alookups_for(self, user: Any) -> Lookups:
        await self._acheck()
        reference = self._reference
        if reference is None:
            reference = self._reference = await sync_to_async(self._load_reference)()
        grants = self._grants.get(user.pk) if user.is_authenticated else {}
        if grants is None:
            grants = self._grants[user.pk] = await sync_to_async(self._load_grants)(user.pk)
        return Lookups(*reference, grants)

    @staticmethod
    def _load_sees_all(user: Any) -> bool:
        from orders.services import VIEW_ALL  # services imports this module

        return user.has_perm(VIEW_ALL)

    async def avisible_accounts(self, user: Any) -> frozenset[str] | None:
        """The accounts whose orders `user` may see (services.accounts_for_user's answer): None
        for every account (the view-all permission), else the granted ones, active or not."""
        if not user.is_authenticated:
            return frozenset()
        await self._acheck()
        sees_all = self._sees_all.get(user.pk)
        if sees_all is None:
            sees_all = self._sees_all[user.pk] = await sync_to_async(self._load_sees_all)(user)
        if sees_all:
            return None
        grants = self._grants.get(user.pk)
        if grants is None:
            grants = self._grants[user.pk] = await sync_to_async(self._load_grants)(user.pk)
        return frozenset(grants)

    # -- tokens -----------------------------------------------------------------------------

    @staticmethod
    def _load_token(key: str) -> TokenEntry:
        token = Token.objects.select_related("user").filter(key=key).first()
        user = token.user if token is not None else None
        return TokenEntry(user, token, time.monotonic() + TOKEN_SECONDS)

    def _cached_token(self, key: str) -> TokenEntry | None:
        entry = self._tokens.get(key)
        return entry if entry is not None and entry.until > time.monotonic() else None

    def token(self, key: str) -> TokenEntry:
        self._check()
        entry = self._cached_token(key)
        if entry is None:
            entry = self._remember(key, self._load_token(key))
        return entry

    async def atoken(self, key: str) -> TokenEntry:
        await self._acheck()
        entry = self._cached_token(key)
        if entry is None:
            # One read per key at a time: when a busy client's entry expires, its requests in
            # flight wait for the same read rather than each reading it.
            loop = asyncio.get_running_loop()
            loading = self._loading.get(key)
            if loading is None or loading.get_loop() is not loop:
                loading = self._loading[key] = loop.create_task(self._aload_token(key))
            entry = await asyncio.shield(loading)
        return entry

    async def _aload_token(self, key: str) -> TokenEntry:
        try:
            return self._remember(key, await sync_to_async(self._load_token)(key))
        finally:
            self._loading.pop(key, None)

    def _remember(self, key: str, entry: TokenEntry) -> TokenEntry:
        tokens = self._tokens
        if len(tokens) > 10_000:  # keys nobody holds (guesses): do not grow without bound
            tokens = self._tokens = {}
        tokens[key] = entry
        return entry


cache = EdgeCache()


# -- the async Redis client, one per event loop -----------------------------------------------

_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def aclient() -> aioredis.Redis:
    """An asyncio Redis client for the running loop (a worker has one loop; a test client a loop
    per request, and a client must not outlive its loop)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = aioredis.Redis.from_url(
            settings.REDIS_URL, decode_responses=True, health_check_interval=30, socket_connect_timeout=2
        )
    return client


# -- invalidation -----------------------------------------------------------------------------


def changed(**_: object) -> None:
    """Reference data or a token changed: this worker forgets now, the others once it commits."""
    cache.clear()
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        bus.client().incr(_version_key())
    except redis.RedisError:
        pass  # the others read again within MAX_AGE_SECONDS anyway


def connect_signals() -> None:
    for model in (Account, Instrument, Venue, Token, get_user_model()):
        post_save.connect(changed, sender=model, dispatch_uid=f"orders.edge.saved.{model._meta.label}")
        post_delete.connect(changed, sender=model, dispatch_uid=f"orders.edge.deleted.{model._meta.label}")
    m2m_changed.connect(changed, sender=Account.users.through, dispatch_uid="orders.edge.grants")
    # who sees every account (orders.view_all_accounts): a user's permissions and groups
    User = get_user_model()
    m2m_changed.connect(changed, sender=User.user_permissions.through, dispatch_uid="orders.edge.permissions")
    m2m_changed.connect(changed, sender=User.groups.through, dispatch_uid="orders.edge.groups")
    m2m_changed.connect(changed, sender=Group.permissions.through, dispatch_uid="orders.edge.group_permissions")
