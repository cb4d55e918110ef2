"""Risk services: what the REST API, the admin and the kill_switch command call.

Readers check what the caller may see; writers check the role, build the command, send it to the
engine and return its post-commit answer. The engine records the change (with who, the old and new
values and the reason) and projects it into the risk tables in the same transaction, so once it has
answered the tables show the change. Nothing here decides a limit's value: the engine validates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from orders import bus, references
from orders import services as order_services
from orders.domain import commands as cmd
from orders.models import Account, Instrument
from risk import configuration
from risk.domain import Scope
from risk.models import LIMIT_FIELDS, AccountLimits, KillSwitch, SymbolLimits
from risk.usage_feed import read_usage

User = order_services.User
MANAGE_RISK = "risk.manage_risk"

# The engine's refusals of a control command, and the request field each one is about.
REFUSAL_FIELDS = {
    "missing_reason": "reason",
    "invalid_scope": "scope",
    "missing_target": "target",
    "unknown_venue": "target",
    "unknown_account": "account",
    "unknown_symbol": "symbol",
}


class NotAllowed(Exception):
    """The caller's role does not allow this (REST 403); the message says what it lacks."""


class NotFound(Exception):
    """No such account or instrument (REST 404)."""


class Refused(Exception):
    """The engine refused the change: `field` is the request field it is about."""

    def __init__(self, field: str, reason: str, text: str) -> None:
        super().__init__(text)
        self.field, self.reason, self.text = field, reason, text


@dataclass(frozen=True)
class ControlAnswer:
    outcome: str  # accepted | no_change
    text: str


# -- roles --------------------------------------------------------------------------------------


def may_manage_risk(user: User) -> bool:
    return user.is_authenticated and user.has_perm(MANAGE_RISK)


def may_engage(user: User, scope: str, target: str | None) -> bool:
    """The risk role engages any switch; a trader only an account granted to them (active or not:
    a deactivated account's live orders must still be stoppable)."""
    if may_manage_risk(user):
        return True
    return (
        scope == Scope.ACCOUNT
        and bool(target)
        and order_services.account_granted(user, target or "", require_active=False)
    )


def _require_risk(user: User, what: str) -> None:
    if not may_manage_risk(user):
        raise NotAllowed(f"only the risk role may {what}")


def _actor(user: User) -> str:
    return f"user:{user.get_username()}"


def _send(command: cmd.Command, field_of_error: dict[str, str] | None = None) -> ControlAnswer:
    """Raises bus.EngineUnavailable, or Refused when the engine said no."""
    reply: dict[str, Any] = bus.send(command)
    if reply["outcome"] in ("accepted", "no_change"):
        return ControlAnswer(reply["outcome"], reply.get("text", ""))
    reason, text = reply.get("reason", "") or "error", reply.get("text", "")
    fields = {**REFUSAL_FIELDS, **(field_of_error or {})}
    field = fields.get(reason) or _field_named(text) or "non_field_errors"
    raise Refused(field, reason, text)


def _field_named(text: str) -> str | None:
    """invalid_limit / invalid_control: the engine's text starts with the setting's name."""
    for name in (*LIMIT_FIELDS, *configuration.INSTRUMENT_SETTINGS):
        if text.startswith(name) or f"{name!r}" in text:
            return name
    return None


def _text(value: Decimal | bool | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return format(value.normalize(), "f")


# -- limits -------------------------------------------------------------------------------------


def account_visible(user: User, code: str) -> Account:
    """The account, if the caller may see it. Raises NotFound or NotAllowed."""
    account = Account.objects.filter(code=code).first()
    if account is None:
        raise NotFound(f"no account {code!r}")
    if not order_services.accounts_for_user(user).filter(code=code).exists():
        raise NotAllowed(f"you may not see account {code}")
    return account


def _limit_values(row: AccountLimits | SymbolLimits | None) -> dict[str, Decimal | None]:
    return {name: getattr(row, name) if row is not None else None for name in LIMIT_FIELDS}


def limits_list(user: User, codes: list[str] | None = None) -> list[dict[str, Any]]:
    """One object per visible account: its six limits (None: no limit) and `symbols`, the
    per-symbol overrides."""
    accounts = order_services.accounts_for_user(user)
    if codes is not None:
        accounts = accounts.filter(code__in=codes)
    return _limits(list(accounts.values_list("code", flat=True)))


def _limits(codes: list[str]) -> list[dict[str, Any]]:
    own = {row.account_id: row for row in AccountLimits.objects.filter(account_id__in=codes)}
    overrides: dict[str, dict[str, dict[str, Decimal | None]]] = {}
    for row in SymbolLimits.objects.filter(account_id__in=codes).order_by("symbol"):
        overrides.setdefault(row.account_id, {})[row.symbol] = _limit_values(row)
    return [{"account": code, **_limit_values(own.get(code)), "symbols": overrides.get(code, {})} for code in codes]


def limits_get(user: User, code: str) -> dict[str, Any]:
    account_visible(user, code)
    return limits_list(user, [code])[0]


def limits_change(
    *, user: User, account: str, changes: dict[str, Decimal | None], reason: str, symbol: str | None = None
) -> ControlAnswer:
    """Set some of an account's limits (or its overrides for `symbol`); None is no limit.
    Raises NotAllowed, NotFound, Refused, bus.EngineUnavailable."""
    _require_risk(user, "change risk limits")
    if not Account.objects.filter(code=account).exists():
        raise NotFound(f"no account {account!r}")
    command = cmd.ChangeRiskLimits(
        command_id=bus.new_command_id(),
        received_at_ns=time.time_ns(),
        actor=_actor(user),
        account=account,
        symbol=symbol,
        changes=tuple((name, _text(value)) for name, value in changes.items()),
        reason=reason,
    )
    return _send(command)


# -- instruments --------------------------------------------------------------------------------


def instrument_risk_change(
    *, user: User, symbol: str, changes: dict[str, Decimal | bool | None], reason: str
) -> ControlAnswer:
    """Set an instrument's price band, max reference age (None: the asset class default) and
    restricted flag. Raises NotAllowed, NotFound, Refused, bus.EngineUnavailable."""
    _require_risk(user, "change instrument risk controls")
    if not Instrument.objects.filter(symbol=symbol).exists():
        raise NotFound(f"no instrument {symbol!r}")
    command = cmd.ChangeInstrumentRisk(
        command_id=bus.new_command_id(),
        received_at_ns=time.time_ns(),
        actor=_actor(user),
        symbol=symbol,
        changes=tuple((name, _text(value)) for name, value in changes.items()),
        reason=reason,
    )
    return _send(command)


# -- usage --------------------------------------------------------------------------------------


def usage_list(user: User, account: str | None = None) -> list[dict[str, Any]]:
    """What each visible account (or just `account`) uses of its limits as the engine holds it,
    with the headroom of each standing limit (limit - used; None when there is no limit).
    Raises NotFound, NotAllowed, redis.RedisError."""
    if account is not None:
        account_visible(user, account)
    limits = {row["account"]: row for row in limits_list(user, [account] if account else None)}
    published = read_usage(list(limits))
    return [_usage(code, limits[code], published[code]) for code in limits]


def usage_of_every_account() -> list[dict[str, Any]]:
    """usage_list for someone who sees every account (the blotter feed, which sends it to them)."""
    limits = {row["account"]: row for row in _limits(list(Account.objects.values_list("code", flat=True)))}
    published = read_usage(list(limits))
    return [_usage(code, limits[code], published[code]) for code in limits]


def _usage(code: str, limits: dict[str, Any], usage: dict[str, Any] | None) -> dict[str, Any]:
    usage = usage or {"gross_notional": "0", "credit_used": "0", "symbols": {}, "at_ns": None}
    gross, credit = Decimal(usage["gross_notional"]), Decimal(usage["credit_used"])
    symbols = []
    for symbol, exposure in sorted(usage["symbols"].items()):
        position, buys, sells = (Decimal(exposure[k]) for k in ("position", "pending_buy", "pending_sell"))
        override = limits["symbols"].get(symbol, {}).get("max_position_qty")
        limit = override if override is not None else limits["max_position_qty"]
        symbols.append({
            "symbol": symbol, "position": position, "pending_buy": buys, "pending_sell": sells,
            "pending_buy_notional": Decimal(exposure["pending_buy_notional"]),
            "pending_sell_notional": Decimal(exposure["pending_sell_notional"]),
            "max_position_qty": limit,
            # what one more buy / sell may add: the position check's `available`
            "position_headroom_buy": None if limit is None else limit - position - buys,
            "position_headroom_sell": None if limit is None else limit + position - sells,
        })  # fmt: skip
    return {
        "account": code,
        "gross_notional": gross,
        "credit_used": credit,
        "limits": {name: limits[name] for name in LIMIT_FIELDS},
        "headroom": {
            "max_gross_notional": _headroom(limits["max_gross_notional"], gross),
            "credit_limit": _headroom(limits["credit_limit"], credit),
        },
        "symbols": symbols,
        "as_of_ns": usage.get("at_ns"),
    }


def _headroom(limit: Decimal | None, used: Decimal) -> Decimal | None:
    return None if limit is None else limit - used


# -- kill switch --------------------------------------------------------------------------------


def kill_switch_list(user: User, *, engaged_only: bool = True) -> QuerySet[KillSwitch]:
    """The switches the caller may see: all for risk and compliance; for a trader the firm's,
    the venues', their own and their accounts'."""
    switches = KillSwitch.objects.all()
    if engaged_only:
        switches = switches.filter(engaged=True)
    if user.is_authenticated and user.has_perm(order_services.VIEW_ALL):
        return switches
    granted = order_services.accounts_for_user(user).values_list("code", flat=True)
    return switches.filter(
        Q(scope__in=[Scope.FIRM, Scope.VENUE])
        | Q(scope=Scope.TRADER, target=user.get_username())
        | Q(scope=Scope.ACCOUNT, target__in=list(granted))
    )


def kill_switch_get(scope: str, target: str | None) -> KillSwitch | None:
    return KillSwitch.objects.filter(scope=scope, target=_target(scope, target) or "").first()


def _target(scope: str, target: str | None) -> str | None:
    return None if scope == Scope.FIRM else (target or None)


def kill_switch_engage(*, user: User, scope: str, target: str | None, reason: str) -> ControlAnswer:
    """Halt new orders in scope and cancel its live ones. Raises NotAllowed, Refused,
    bus.EngineUnavailable."""
    if not may_engage(user, scope, target):
        raise NotAllowed(
            "only the risk role may engage this kill switch; a trader may engage one for an account granted to them"
        )
    if scope == Scope.TRADER and not get_user_model().objects.filter(username=target).exists():
        # The engine cannot know users; a misspelt name would halt nobody.
        raise Refused("target", "unknown_trader", f"no user {target!r}")
    command = cmd.EngageKillSwitch(
        command_id=bus.new_command_id(),
        received_at_ns=time.time_ns(),
        actor=_actor(user),
        scope=scope,
        target=_target(scope, target),
        reason=reason,
    )
    return _send(command, {"unknown_account": "target"})


def kill_switch_release(*, user: User, scope: str, target: str | None, reason: str) -> ControlAnswer:
    """Raises NotAllowed, Refused, bus.EngineUnavailable. `no_change`: it was not engaged."""
    _require_risk(user, "release a kill switch")
    command = cmd.ReleaseKillSwitch(
        command_id=bus.new_command_id(),
        received_at_ns=time.time_ns(),
        actor=_actor(user),
        scope=scope,
        target=_target(scope, target),
        reason=reason,
    )
    return _send(command, {"unknown_account": "target"})


# -- health -------------------------------------------------------------------------------------


def risk_warnings_list() -> list[str]:
    """What health warns about (without failing): each engaged kill switch, and each active
    instrument whose engine reference is missing or older than its max age (orders in it are
    rejected no_reference / stale_reference). Raises DatabaseError, redis.RedisError."""
    warnings = [
        f"kill switch engaged: {_switch_name(s)} by {s.engaged_by} at {s.engaged_at:%Y-%m-%d %H:%M:%S}Z: "
        f"{s.engage_reason}"
        for s in KillSwitch.objects.filter(engaged=True).order_by("scope", "target")
    ]
    quotes = references.read()
    for instrument in Instrument.objects.filter(active=True).order_by("symbol"):
        quote = quotes.get(instrument.symbol) or {}
        max_age = configuration.instrument_risk(instrument).max_reference_age_s
        age = quote.get("age_s")
        if quote.get("reference") is None or age is None:
            warnings.append(f"no reference price: {instrument.symbol} (orders are rejected no_reference)")
        elif Decimal(str(age)) > max_age:
            warnings.append(
                f"stale reference price: {instrument.symbol} is {age:g}s old, max {_text(max_age)}s "
                f"(orders are rejected stale_reference)"
            )
    return warnings


def _switch_name(switch: KillSwitch) -> str:
    return "firm" if switch.scope == Scope.FIRM else f"{switch.scope} {switch.target}"
