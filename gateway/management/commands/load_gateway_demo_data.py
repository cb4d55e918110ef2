from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gateway.models import ClientSession
from orders.models import Account

# CompID -> (the accounts it trades, the default for messages without 1 Account)
SESSIONS = {"CLIENT1": (["CLIENT-1"], "CLIENT-1")}


class Command(BaseCommand):
    help = "Create the demo client FIX sessions (idempotent; after load_demo_data). Refused in production."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("demo data is never loaded in production")
        with transaction.atomic():
            for comp_id, (codes, default) in SESSIONS.items():
                accounts = list(Account.objects.filter(code__in=codes))
                if len(accounts) != len(codes):
                    raise CommandError(f"run load_demo_data first: {comp_id} trades {', '.join(codes)}")
                session, created = ClientSession.objects.get_or_create(
                    comp_id=comp_id,
                    defaults={"description": "Demo client (FIX 4.4)", "default_account_id": default},
                )
                if created:  # later edits are the operator's
                    session.accounts.set(accounts)
        self.stdout.write(f"client FIX sessions: {', '.join(SESSIONS)}")
