from django.contrib import admin

from orders import venue_feed
from orders.calendars import venue_calendar_of
from orders.domain.calendar import CalendarError
from venues.models import Venue


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "port", "sender_comp_id", "target_comp_id", "active", "default", "session",
                    "calendar")  # fmt: skip
    list_filter = ("active",)
    search_fields = ("name", "description")

    @admin.display(description="FIX session now")
    def session(self, venue: Venue) -> str:
        try:
            state = venue_feed.read([venue.name])[venue.name]
        except Exception as exc:  # Redis down: say so rather than fail the page
            return f"unknown ({exc})"
        return venue_feed.refusal(venue.name, state) or "logged on"

    @admin.display(description="Close")
    def calendar(self, venue: Venue) -> str:
        try:
            return venue_calendar_of(venue).describe()
        except CalendarError as exc:
            return f"invalid: {exc}"
