"""Reconciliation breaks in admin: a list to filter (open/resolved, venue, account) and a form to
resolve one, with a reason, through the same service as the REST API (the engine records it).
Everyone with the view permission may look; only the risk and compliance roles resolve."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html

from orders import bus
from reconciliation import services
from reconciliation.models import ReconciliationBreak


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        choices=[
            ("accept", "Accept the venue's figure (book a position adjustment)"),
            ("dismiss", "Dismiss (book nothing: the OMS's figure stands)"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=500,
                             help_text="Why: recorded in the audit log with the resolution (required).")  # fmt: skip


class OpenOrResolved(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "open"), ("resolved", "resolved (accepted or dismissed)"), ("accepted", "accepted"),
                ("dismissed", "dismissed"), ("cleared", "cleared by itself")]  # fmt: skip

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "resolved":
            return queryset.filter(status__in=["accepted", "dismissed"])
        if self.value() in ("open", "accepted", "dismissed", "cleared"):
            return queryset.filter(status=self.value())
        return queryset


@admin.register(ReconciliationBreak)
class ReconciliationBreakAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "kind", "venue", "account", "subject", "oms_quantity", "venue_quantity",
                    "oms_status", "venue_status", "opened_at", "closed_by", "resolve_link"]  # fmt: skip
    list_filter = [OpenOrResolved, "kind", "venue", "account"]  # one filter by state, not two saying "open"
    search_fields = ["=id", "subject", "account", "text"]
    readonly_fields = [f.name for f in ReconciliationBreak._meta.fields]
    actions = ["resolve_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the log changes a break; resolving has its own form

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="resolve")
    def resolve_link(self, obj: ReconciliationBreak) -> str:
        if not obj.is_open:
            return "-"
        return format_html('<a href="{}">resolve&hellip;</a>', reverse("admin:reconciliation_break_resolve",
                                                                       args=[obj.id]))  # fmt: skip

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:  # fmt: skip
        """The break's page, with what a person can do about it: a Resolve button while it is open
        (for the risk and compliance roles; others are told who can)."""
        found = ReconciliationBreak.objects.filter(id=object_id).first() if object_id.isdigit() else None
        context = {**(extra_context or {}), "may_resolve": services.may_resolve(request.user)}
        if found is not None and found.is_open:
            context["resolve_url"] = reverse("admin:reconciliation_break_resolve", args=[found.id])
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self) -> list:
        own = [path("<int:break_id>/resolve/", self.admin_site.admin_view(self.resolve_view),
                    name="reconciliation_break_resolve")]  # fmt: skip
        return own + super().get_urls()

    @admin.action(description="Resolve the selected break (risk and compliance roles)")
    def resolve_selected(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        open_ones = queryset.filter(status="open")
        if open_ones.count() != 1:
            self.message_user(request, "select one open break to resolve", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:reconciliation_break_resolve", args=[open_ones.get().id]))

    def resolve_view(self, request: HttpRequest, break_id: int) -> HttpResponse:
        found = get_object_or_404(ReconciliationBreak, id=break_id)
        its_page = reverse("admin:reconciliation_reconciliationbreak_change", args=[break_id])
        if not services.may_resolve(request.user):
            self.message_user(request, "only the risk and compliance roles may resolve reconciliation breaks",
                              messages.ERROR)  # fmt: skip
            return HttpResponseRedirect(its_page)
        if not found.is_open:
            self.message_user(request, f"break {break_id} is already {found.status}", messages.WARNING)
            return HttpResponseRedirect(its_page)
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                text = services.break_resolve(request.user, break_id, form.cleaned_data["resolution"],
                                              form.cleaned_data["reason"])  # fmt: skip
            except services.Refused as refused:
                messages.error(request, f"refused ({refused.reason}): {refused.text}")
            except (services.NotAllowed, services.NotFound) as exc:
                messages.error(request, str(exc))
            except bus.EngineUnavailable as exc:
                messages.error(request, f"engine unavailable, nothing recorded: {exc}")
            else:
                messages.success(request, f"recorded by the engine: {text}")
                return HttpResponseRedirect(its_page)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Resolve break {break_id}",
            "form": form,
            "break": found,
            "figures": _figures(found),
        }
        return render(request, "admin/reconciliation/reconciliationbreak/resolve_form.html", context)


def _qty(value: Decimal | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return format(value.normalize() if value else Decimal(0), "+f" if signed else "f")


def _figures(found: ReconciliationBreak) -> dict[str, str]:
    """Both sides' figures as people read them (no trailing zeros), and what accepting books."""
    return {
        "oms": _qty(found.oms_quantity),
        "venue": _qty(found.venue_quantity),
        "difference": _qty(found.difference, signed=True),
        "venue_price": _qty(found.venue_price),
    }
