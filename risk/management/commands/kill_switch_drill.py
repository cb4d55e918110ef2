"""`manage.py kill_switch_drill`: the firm kill switch engaged on N live orders, and the time until
the venues have canceled every one (oms_project/drill.py). Run against a running OMS (`make run`)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from oms_project.drill import DRILL_ACCOUNT, Drill, DrillError, actor_of
from orders.bus import EngineUnavailable

MANAGE_RISK = "risk.manage_risk"


class Command(BaseCommand):
    help = (
        "Kill switch drill: place N resting orders for the drill account over the venues, engage the FIRM "
        "kill switch, time until the venues have canceled every one, then release it. Halts the whole firm "
        "while it runs: every live order in the firm is canceled."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=1000, help="Resting orders to place (default 1000).")
        parser.add_argument("--as", dest="username", required=True,
                            help=f"Who engages and releases: a user with {MANAGE_RISK}.")  # fmt: skip
        parser.add_argument("--venue", action="append", default=[],
                            help="A venue to place at (repeatable; default every active venue).")  # fmt: skip
        parser.add_argument("--symbol", action="append", default=[],
                            help="A symbol (repeatable; default every active one with a fresh reference).")  # fmt: skip
        parser.add_argument("--account", default=DRILL_ACCOUNT, help="The drill account (made if missing; no limits).")
        parser.add_argument("--timeout", type=float, default=60.0, help="Seconds to wait for each step.")
        parser.add_argument("--keep-engaged", action="store_true", help="Leave the firm switch engaged afterwards.")
        parser.add_argument("--force", action="store_true", help="Run even with OMS_ENV=production.")

    def handle(self, *args, orders: int, username: str, venue: list[str], symbol: list[str], account: str,
               timeout: float, keep_engaged: bool, force: bool, **options):  # fmt: skip
        if settings.PRODUCTION and not force:
            raise CommandError("refused with OMS_ENV=production: a drill halts the whole firm (--force to run it)")
        if orders < 1:
            raise CommandError("--orders must be at least 1")
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None or not user.has_perm(MANAGE_RISK):
            raise CommandError(f"{username!r} is not an active user with {MANAGE_RISK}")
        say = lambda line: self.stdout.write(line)  # noqa: E731
        try:
            drill = Drill(orders=orders, actor=actor_of(username), venues=venue or None, symbols=symbol or None,
                          account=account, timeout=timeout, out=say)  # fmt: skip
            drill.prepare()
        except DrillError as exc:
            raise CommandError(str(exc)) from exc
        released = False
        try:
            drill.place()
            drill.wait_acknowledged()
            try:
                result = drill.engage_and_measure(reason="drill")
            finally:
                if not keep_engaged:
                    released = self._release(drill)
        except (DrillError, EngineUnavailable) as exc:
            raise CommandError(f"the drill did not complete: {exc}") from exc
        finally:
            try:
                drill.cancel_leftovers()
            except EngineUnavailable as exc:
                self.stderr.write(f"could not cancel the drill orders left live: {exc}")
        self.stdout.write("")
        for line in result.lines():
            self.stdout.write(f"  {line}")
        all_by_venues = result.by_venues == result.orders
        self.stdout.write(
            ("every one" if all_by_venues else f"{result.by_venues:,}")
            + f" of {result.orders:,} live orders canceled at the venues within {result.last_cancel_s:.3f} s"
            " of the engage (goal 2 s)"
        )
        if keep_engaged:
            self.stdout.write(self.style.WARNING("the FIRM kill switch is still ENGAGED (--keep-engaged): release "
                                                 "it when done"))  # fmt: skip
        else:
            self.stdout.write(f"firm kill switch {'released' if released else 'was not engaged at the end'}")
        if not all_by_venues:
            raise CommandError("not every drill order was canceled by its venue's own report")

    def _release(self, drill: Drill) -> bool:
        try:
            return drill.release()
        except (DrillError, EngineUnavailable) as exc:
            raise CommandError(
                f"the FIRM kill switch may still be ENGAGED: releasing it failed ({exc}); release it (scope firm) as "
                "soon as the engine answers"
            ) from exc
