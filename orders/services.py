"""Order services: what the REST API (and later the blotter) call. Readers check access;
writers build a command, send it to the engine and wait for its post-commit answer."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from orders import bus, edge
from orders.domain import commands as cmd
from orders.domain.values import OrderType, Side, Strategy, TimeInForce
from orders.models import Account, Event, Fill, Instrument, Order, Position
from venues.models import Venue

User = AbstractBaseUser | AnonymousUser


# Two kinds of access. A *grant* (Account.users) lets a user trade an account and see it.
# The permission orders.view_all_accounts (risk, compliance) lets a user see every account
# without trading any.
VIEW_ALL = "orders.view_all_accounts"


def accounts_for_user(user: User) -> QuerySet[Account]:
    """The accounts a user may see."""
    if not user.is_authenticated:
        return Account.objects.none()
    if user.has_perm(VIEW_ALL):
        return Account.objects.all()
    return Account.objects.filter(users=user)


def _visible(queryset: QuerySet, user: User) -> QuerySet:
    if user.is_authenticated and user.has_perm(VIEW_ALL):
        return queryset
    return queryset.filter(account__in=accounts_for_user(user).values("code"))


def orders_for_user(user: User) -> QuerySet[Order]:
    return _visible(Order.objects.all(), user)


def order_get_for_user(user: User, order_id: int) -> Order | None:
    return orders_for_user(user).filter(id=order_id).first()


def fills_for_user(user: User) -> QuerySet[Fill]:
    return _visible(Fill.objects.all(), user)


def positions_for_user(user: User) -> QuerySet[Position]:
    return _visible(Position.objects.all(), user)


def events_for_user(user: User) -> QuerySet[Event]:
    return _visible(Event.objects.all(), user)


def account_granted(user: User, code: str, *, require_active: bool = True) -> bool:
    """May `user` trade `code`? Only a grant says so; seeing everything is not trading."""
    if not user.is_authenticated:
        return False
    granted = Account.objects.filter(users=user, code=code)
    return (granted.filter(active=True) if require_active else granted).exists()


def order_actionable_by(user: User, order: Order, *, cancel: bool = False) -> bool:
    """Cancelling needs only the grant: a deactivated account's live orders must still be
    cancellable. New risk (a replace) needs the account active, as a new order does. The grant as
    the web worker's cache holds it (orders.edge), as order entry reads it."""
    return edge.cache.lookups_for(user).may_trade(order.account_id, require_active=not cancel)


def instrument_exists(symbol: str) -> bool:
    return Instrument.objects.filter(symbol=symbol).exists()


def venue_active(name: str) -> bool:
    return Venue.objects.filter(name=name, active=True).exists()


@dataclass(frozen=True)
class EngineAnswer:
    outcome: str  # accepted | rejected | duplicate | no_change | anomaly | expired | error
    order: Order | None
    reason: str
    text: str


def _actor(user: User) -> str:
    return f"user:{user.get_username()}"


# The engine drops a submit or replace it takes after this deadline, so a sender that has
# given up (503) is not surprised by a late order. The margin covers the engine's own commit.
DEADLINE_MARGIN_NS = 250_000_000


def _deadline_ns(received_at_ns: int) -> int:
    return received_at_ns + int(settings.OMS_ENGINE_REPLY_TIMEOUT * 1_000_000_000) - DEADLINE_MARGIN_NS


_ORDER_FIELDS = {f.column: f for f in Order._meta.concrete_fields}


def order_from_reply(row: dict[str, Any]) -> Order:
    """The order as the engine's reply carries it (its projection row, projections.order_reply):
    the same instance a read of the projection would give, unsaved."""
    fields = {c: _ORDER_FIELDS[c] for c in row if c in _ORDER_FIELDS}
    return Order(**{f.attname: f.to_python(row[c]) for c, f in fields.items()})


def _answer(reply: dict[str, Any]) -> EngineAnswer:
    if reply.get("order") is not None:
        order: Order | None = order_from_reply(reply["order"])
    else:  # an engine that does not send it, or an order it no longer holds
        order = Order.objects.filter(id=reply["order_id"]).first() if reply.get("order_id") else None
    return EngineAnswer(reply["outcome"], order, reply.get("reason", ""), reply.get("text", ""))


async def _aanswer(reply: dict[str, Any]) -> EngineAnswer:
    if reply.get("order") is None and reply.get("order_id"):
        return await sync_to_async(_answer)(reply)
    return _answer(reply)


def new_request_cl_ord_id() -> str:
    return f"OMS-{uuid.uuid4().hex[:16]}"


def order_submit(*, user: User, **order: Any) -> EngineAnswer:
    """`order`: submit_command's fields. Precondition: the caller checked that `user` may trade the
    account. Raises EngineUnavailable."""
    return _answer(bus.send(submit_command(user=user, **order), with_order=True))


async def aorder_submit(*, user: User, **order: Any) -> EngineAnswer:
    """`order_submit` on the event loop: the thread is free while the engine answers, and the order
    comes back in the engine's reply, so nothing is read from the database."""
    return await _aanswer(await bus.asend(submit_command(user=user, **order), with_order=True))


def submit_command(
    *,
    user: User,
    account: str,
    cl_ord_id: str,
    symbol: str,
    side: Side,
    quantity: Decimal,
    order_type: OrderType,
    time_in_force: TimeInForce,
    limit_price: Decimal | None,
    venue: str | None = None,
    routing: dict | None = None,
) -> cmd.SubmitOrder:
    received = time.time_ns()
    return cmd.SubmitOrder(
        command_id=bus.new_command_id(),
        received_at_ns=received,
        actor=_actor(user),
        account=account,
        cl_ord_id=cl_ord_id,
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        time_in_force=time_in_force,
        limit_price=limit_price,
        expires_at_ns=_deadline_ns(received),
        venue=routing.get("venue") if routing else venue,
        strategy=Strategy(routing["strategy"]) if routing else None,
        slices=routing.get("slices") if routing else None,
        venues=tuple(routing["venues"]) if routing and routing.get("venues") else None,
    )


def order_cancel(*, user: User, order: Order, cl_ord_id: str | None = None) -> EngineAnswer:
    command = cmd.CancelOrder(
        command_id=bus.new_command_id(),
        received_at_ns=time.time_ns(),
        actor=_actor(user),
        account=order.account_id,
        order_id=order.id,
        cl_ord_id=cl_ord_id or new_request_cl_ord_id(),
        orig_cl_ord_id=order.cl_ord_id,
    )
    return _answer(bus.send(command, with_order=True))


def order_replace(
    *,
    user: User,
    order: Order,
    quantity: Decimal | None,
    limit_price: Decimal | None,
    cl_ord_id: str | None = None,
) -> EngineAnswer:
    received = time.time_ns()
    command = cmd.ReplaceOrder(
        command_id=bus.new_command_id(),
        received_at_ns=received,
        actor=_actor(user),
        account=order.account_id,
        order_id=order.id,
        cl_ord_id=cl_ord_id or new_request_cl_ord_id(),
        orig_cl_ord_id=order.cl_ord_id,
        quantity=quantity,
        limit_price=limit_price,
        expires_at_ns=_deadline_ns(received),
    )
    return _answer(bus.send(command, with_order=True))
