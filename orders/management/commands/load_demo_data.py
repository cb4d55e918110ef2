from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders.models import Account, Instrument

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
# user -> (staff, superuser, accounts granted for trading, model permissions).
# risk and compliance see every account (view_all_accounts) and trade none.
OVERSIGHT = ["view_all_accounts", "view_order", "view_fill", "view_position", "view_event", "view_account",
             "view_instrument"]  # fmt: skip
DESKS = ["DESK-EQ", "DESK-ARB", "CLIENT-1"]
USERS = {
    "trader": (False, False, DESKS, []),
    "risk": (True, False, [], OVERSIGHT),
    "compliance": (True, False, [], OVERSIGHT),
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
            f"{len(ACCOUNTS)} accounts, {len(INSTRUMENTS)} instruments"
        )
