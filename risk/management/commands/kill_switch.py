"""manage.py kill_switch engage|release|status: the kill switch from a shell, for when the web is
down. It talks to the engine over the command bus as the REST API does, and holds the user named
by --as to the same rights: the risk role engages and releases any switch, a trader engages (never
releases) one for an account granted to them.

Exit codes: 0 done (or nothing to do), 1 refused by the engine or bad input, 3 not allowed,
4 engine unavailable (nothing changed unless it answers later: check `status`).
"""

from __future__ import annotations

from typing import Any

import redis
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders import bus
from risk import services
from risk.domain import Scope
from risk.usage_feed import read_switches

NOT_ALLOWED = 3
ENGINE_UNAVAILABLE = 4


class Command(BaseCommand):
    help = "Engage, release or show kill switches (works while the web is down)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["engage", "release", "status"])
        parser.add_argument("--scope", choices=[s.value for s in Scope], default=Scope.FIRM.value)
        parser.add_argument("--target", help="account code, username or venue name (not for the firm)")
        parser.add_argument("--reason", help="why: recorded in the audit log (required to engage or release)")
        parser.add_argument("--as", dest="username", help="the user acting (required to engage or release)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            self._status()
            return
        scope, target = options["scope"], options["target"] or None
        if scope != Scope.FIRM and not target:
            raise CommandError(f"a {scope} kill switch needs --target")
        if scope == Scope.FIRM and target:
            raise CommandError("the firm kill switch takes no --target")
        if not (options["reason"] or "").strip():
            raise CommandError("--reason is required: it is recorded with the change")
        if not options["username"]:
            raise CommandError("--as USERNAME is required: the change is recorded under that user")
        user = get_user_model().objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['username']!r}", returncode=NOT_ALLOWED)
        act = services.kill_switch_engage if options["action"] == "engage" else services.kill_switch_release
        try:
            answer = act(user=user, scope=scope, target=target, reason=options["reason"])
        except services.NotAllowed as exc:
            raise CommandError(f"{user.get_username()}: {exc}", returncode=NOT_ALLOWED) from None
        except services.Refused as exc:
            raise CommandError(f"refused ({exc.reason}): {exc.text}") from None
        except bus.EngineUnavailable as exc:
            raise CommandError(
                f"engine unavailable: {exc}; run `kill_switch status` to see whether it took effect",
                returncode=ENGINE_UNAVAILABLE,
            ) from None
        style = self.style.SUCCESS if answer.outcome == "accepted" else self.style.WARNING
        self.stdout.write(style(answer.text))

    def _status(self) -> None:
        recorded = list(services.KillSwitch.objects.filter(engaged=True).order_by("scope", "target"))
        if not recorded:
            self.stdout.write("no kill switch engaged")
        for switch in recorded:
            name = "firm" if switch.scope == Scope.FIRM else f"{switch.scope} {switch.target}"
            self.stdout.write(
                self.style.WARNING(f"ENGAGED  {name}")
                + f"  by {switch.engaged_by} at {switch.engaged_at:%Y-%m-%d %H:%M:%S}Z"
                + f", {switch.canceled} order(s) asked to cancel: {switch.engage_reason}"
            )
        try:
            live = read_switches()
        except redis.RedisError as exc:
            self.stdout.write(self.style.WARNING(f"the engine's view is unknown (redis unreachable: {exc})"))
            return
        if live is None:
            self.stdout.write(self.style.WARNING("the engine has not published its switches (is it running?)"))
            return
        held = {(s["scope"], s["target"] or "") for s in live}
        if held != {(s.scope, s.target) for s in recorded}:
            lag = f"the engine holds {len(held)} engaged switch(es), the table {len(recorded)}"
            self.stdout.write(self.style.WARNING(f"{lag}: it may not have published the latest change yet"))
