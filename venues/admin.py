from django.contrib import admin

from venues.models import Venue


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "port", "sender_comp_id", "target_comp_id", "active", "default", "simulated")
    list_filter = ("active", "simulated")
    search_fields = ("name", "description")
