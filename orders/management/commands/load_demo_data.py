from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders.models import Account, Instrument
from risk.models import LIMIT_FIELDS, AccountLimits
from venues.models import Venue

ACCOUNTS = [
    ("DESK-EQ", "Equities desk"),
    ("DESK-ARB", "Index arbitrage book"),
    ("CLIENT-1", "Client 1 (FIX session CLIENT1)"),
]
# symbol, description, tick, lot, currency, asset class
INSTRUMENTS = [
    ("AAPL", "Apple Inc.", "0.01", "1", "USD", "equity"),
    ("MSFT", "Microsoft Corp.", "0.01", "1", "USD", "equity"),
    ("AMZN", "Amazon.com Inc.", "0.01", "1", "USD", "equity"),
    ("NVDA", "NVIDIA Corp.", "0.01", "1", "USD", "equity"),
    ("TSLA", "Tesla Inc.", "0.01", "1", "USD", "equity"),
    ("SPY", "SPDR S&P 500 ETF", "0.01", "1", "USD", "etf"),
    ("VOD.L", "Vodafone Group (London)", "0.02", "100", "GBP", "equity"),
]
# Risk limits under which normal demo trading passes (README shows a fat finger refused):
# account -> (max order qty, max order notional, max position qty per symbol, max gross notional,
# credit limit, max messages per second). Set once: later changes are the risk officer's, audited.
LIMITS = {
    "DESK-EQ": ("10000", "5000000", "20000", "50000000", "15000000", "200"),
    "DESK-ARB": ("10000", "5000000", "20000", "50000000", "15000000", "200"),
    "CLIENT-1": ("10000", "1000000", "20000", "10000000", "3000000", "50"),
}
# The two simulated exchanges `make run` starts (Procfile), and our FIX sessions to them:
# name, description, port setting, default (the Procfile gives each its seed, spread and depth).
VENUES = [
    ("SIMA", "Simulated exchange A: tighter, deeper", "OMS_SIMA_PORT", True),
    ("SIMB", "Simulated exchange B: wider, thinner", "OMS_SIMB_PORT", False),
]
# user -> (staff, superuser, accounts granted for trading, model permissions).
# risk and compliance see every account (view_all_accounts) and trade none.
OVERSIGHT = ["view_all_accounts", "view_order", "view_fill", "view_position", "view_event", "view_account",
             "view_instrument", "view_venue", "view_clientsession", "view_fixmessage",
             "view_endofdayreport", "view_endofdayaccount", "view_closesweep"]  # fmt: skip
DESKS = ["DESK-EQ", "DESK-ARB", "CLIENT-1"]
RISK_VIEWS = ["view_accountlimits", "view_symbollimits", "view_killswitch"]
# Reconciliation breaks: risk and compliance look at them and resolve them (accept or dismiss).
RECONCILIATION = ["view_reconciliationbreak", "view_positionadjustment", "resolve_break"]
USERS = {
    "trader": (False, False, DESKS, []),
    "risk": (True, False, [], [*OVERSIGHT, *RISK_VIEWS, *RECONCILIATION, "manage_risk"]),
    "compliance": (True, False, [], [*OVERSIGHT, *RISK_VIEWS, *RECONCILIATION]),
    "admin": (True, True, DESKS, []),
}


class Command(BaseCommand):
    help = "Create the demo users, accounts and instruments (idempotent). Refused in production."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("demo data is never loaded with OMS_ENV=production")
        with transaction.atomic():
            for code, name in ACCOUNTS:
                Account.objects.update_or_create(code=code, defaults={"name": name})
            for code, figures in LIMITS.items():
                AccountLimits.objects.get_or_create(
                    account_id=code, defaults=dict(zip(LIMIT_FIELDS, map(Decimal, figures), strict=True))
                )
            for symbol, description, tick, lot, currency, asset_class in INSTRUMENTS:
                Instrument.objects.update_or_create(
                    symbol=symbol,
                    defaults={
                        "description": description,
                        "tick_size": Decimal(tick),
                        "lot_size": Decimal(lot),
                        "currency": currency,
                        "asset_class": asset_class,
                    },
                )
            for name, description, port_setting, default in VENUES:
                venue, created = Venue.objects.update_or_create(
                    name=name,
                    defaults={
                        "description": description,
                        "host": "127.0.0.1",
                        "port": getattr(settings, port_setting),
                        "target_comp_id": name,
                    },
                )
                if created and default and not Venue.objects.filter(default=True).exists():
                    venue.default = True
                    venue.save(update_fields=["default"])
            User = get_user_model()
            for username, (staff, superuser, codes, permissions) in USERS.items():
                user, created = User.objects.get_or_create(username=username)
                if created:
                    user.set_password(username)
                user.is_staff = staff
                user.is_superuser = superuser
                user.save()
                user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
                user.accounts.set(Account.objects.filter(code__in=codes))
        self.stdout.write(
            f"demo data: {len(USERS)} users ({', '.join(USERS)}; password = name), "
            f"{len(ACCOUNTS)} accounts, {len(INSTRUMENTS)} instruments, {len(VENUES)} simulated venues"
        )
