"""Venues the OMS routes to, and the FIX session to each: configuration an operator edits in admin."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction

COMP_ID = {"max_length": 32}


class Venue(models.Model):
    """A venue and our FIX 4.4 initiator session to it (one session per venue)."""

    name = models.SlugField(max_length=32, unique=True, help_text="The venue's name, as orders name it.")
    description = models.CharField(max_length=200, blank=True)
    host = models.CharField(max_length=255, default="127.0.0.1")
    port = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    sender_comp_id = models.CharField(**COMP_ID, default="OMS", help_text="49 SenderCompID: us.")
    target_comp_id = models.CharField(**COMP_ID, help_text="56 TargetCompID: the venue.")
    heartbeat_seconds = models.PositiveSmallIntegerField(default=10)
    active = models.BooleanField(default=True, help_text="Inactive venues are neither connected nor routed to.")
    default = models.BooleanField(default=False, help_text="Where orders without a routing instruction go.")
    # The venue's close, overriding OMS_VENUE_CALENDAR (orders/calendars.py): DAY orders expire then.
    close_time = models.TimeField(
        null=True, blank=True, help_text="Local close time (DAY orders expire); empty: OMS_VENUE_CALENDAR's."
    )
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="IANA zone of the close, e.g. America/New_York; empty: the setting's."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["default"], condition=models.Q(default=True), name="one_default_venue")
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """Making a venue the default takes it from the one that was: one save, not two."""
        with transaction.atomic():
            if self.default:
                Venue.objects.filter(default=True).exclude(pk=self.pk).update(default=False)
            super().save(*args, **kwargs)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from orders.calendars import venue_calendar_of
        from orders.domain.calendar import CalendarError

        try:
            venue_calendar_of(self)
        except CalendarError as exc:
            raise ValidationError({"time_zone": str(exc)}) from exc

    def get_constraints(self):
        """What form validation checks: not "one default venue", which `save` keeps true itself by
        taking the default from the venue that had it (the database still enforces it)."""
        return [(cls, [c for c in constraints if c.name != "one_default_venue"])
                for cls, constraints in super().get_constraints()]  # fmt: skip
