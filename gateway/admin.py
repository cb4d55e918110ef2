"""Admin: client sessions are edited here; the FIX message log is a read-only audit view, per
session (filter by CompID) and per order (from the order's page, or ?order=<id>)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from gateway import health
from gateway.models import ClientSession, FixMessage
from orders.admin import ReadOnlyAdmin
from orders.models import Event, Order


@admin.register(ClientSession)
class ClientSessionAdmin(admin.ModelAdmin):
    list_display = ("comp_id", "default_account", "active", "state", "cancel_on_disconnect", "max_messages_per_second",
                    "messages")  # fmt: skip

    def changelist_view(self, request, extra_context=None):
        try:
            self._heartbeat = health.read()
        except Exception:  # Redis away: the column says "unknown"
            self._heartbeat = {}
        return super().changelist_view(request, extra_context)

    @admin.display(description="state (gateway)")
    def state(self, session: ClientSession) -> str:
        heartbeat = getattr(self, "_heartbeat", {})
        if heartbeat is None:
            return "gateway not running"
        if not heartbeat:
            return "unknown"
        return heartbeat["sessions"].get(session.comp_id, "no acceptor").replace("_", " ")

    list_filter = ("active", "reset_on_logon")
    search_fields = ("comp_id", "description")
    filter_horizontal = ("accounts",)

    @admin.display(description="FIX messages")
    def messages(self, session: ClientSession) -> str:
        url = reverse("admin:gateway_fixmessage_changelist") + f"?session={session.comp_id}"
        return format_html('<a href="{}">message log</a>', url)


def cl_ord_id_chain(order: Order) -> set[str]:
    """Every ClOrdID the order has had (its own, each replace's, each cancel request's)."""
    chain = {order.cl_ord_id}
    for payload in Event.objects.filter(stream_type="order", stream_id=order.id).values_list("payload", flat=True):
        chain.update(v for k in ("cl_ord_id", "orig_cl_ord_id") if isinstance(v := payload.get(k), str))
    return chain


class OrderFilter(admin.SimpleListFilter):
    """?order=<OMS order id>: the messages about that order, those that name its OrderID (37) and
    the client's own requests that only name its ClOrdIDs (11/41, in its account)."""

    title = "order"
    parameter_name = "order"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"order {value}")] if value else []

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        order = Order.objects.filter(id=int(self.value())).first() if self.value().isdigit() else None
        if order is None:
            return queryset.none()
        chain = cl_ord_id_chain(order)
        about = Q(cl_ord_id__in=chain) | Q(orig_cl_ord_id__in=chain)
        return queryset.filter(Q(order_id=str(order.id)) | (about & Q(account__in=[order.account_id, ""])))


class SessionFilter(admin.SimpleListFilter):
    title = "session"
    parameter_name = "session"

    def lookups(self, request, model_admin):
        return [(c, c) for c in ClientSession.objects.values_list("comp_id", flat=True)]

    def queryset(self, request, queryset):
        return queryset.filter(session=self.value()) if self.value() else queryset


@admin.register(FixMessage)
class FixMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "at", "session", "direction", "msg_seq_num", "message_type", "poss_dup", "cl_ord_id",
                    "orig_cl_ord_id", "order_id", "account", "wire"]  # fmt: skip
    list_filter = [SessionFilter, OrderFilter, "direction", "msg_type", "poss_dup"]
    search_fields = ["=cl_ord_id", "=orig_cl_ord_id", "=order_id", "=session"]
    ordering = ["-id"]
    show_full_result_count = False
    list_per_page = 100
    readonly_fields = ["session", "direction", "msg_seq_num", "message_type", "poss_dup", "cl_ord_id",
                       "orig_cl_ord_id", "order_id", "account", "at", "wire", "decoded_fields"]  # fmt: skip
    exclude = ["raw", "msg_type"]

    @admin.display(description="MsgType (35)", ordering="msg_type")
    def message_type(self, message: FixMessage) -> str:
        from venues.fix.dictionary import message_type_name  # quickfix: see decoded_fields

        return f"{message.msg_type} {message_type_name(message.msg_type)}"

    @admin.display(description="message")
    def wire(self, message: FixMessage) -> str:
        return format_html("<code>{}</code>", message.raw.replace("\x01", "|"))

    @admin.display(description="fields")
    def decoded_fields(self, message: FixMessage) -> str:
        # Imported here, not with the module: it loads quickfix (half a second), and every process
        # loads the admin at start, the engine too, whose restart time counts (bench/snapshot_restart.py).
        from venues.fix.dictionary import decoded

        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", decoded(message.raw))
        return format_html("<table><tr><th>tag</th><th>name</th><th>value</th><th>meaning</th></tr>{}</table>", rows)
