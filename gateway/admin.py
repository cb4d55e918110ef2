from django.contrib import admin

from gateway.models import ClientSession


@admin.register(ClientSession)
class ClientSessionAdmin(admin.ModelAdmin):
    list_display = ("comp_id", "default_account", "active", "cancel_on_disconnect", "max_messages_per_second")
    list_filter = ("active",)
    search_fields = ("comp_id", "description")
    filter_horizontal = ("accounts",)
