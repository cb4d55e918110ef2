"""Admin: the end-of-day reports and the close sweeps, read-only. Whoever may view the reports
(compliance, risk, admin) reads each account's part here and downloads the files."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from orders.admin import ReadOnlyAdmin
from tradingday import services
from tradingday.models import CloseSweep, EndOfDayAccount, EndOfDayReport


class AccountSectionInline(admin.TabularInline):
    model = EndOfDayAccount
    fields = ["section", "orders", "fills", "notional", "open_breaks"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="account")
    def section(self, section: EndOfDayAccount) -> str:
        url = reverse("admin:tradingday_endofdayaccount_change", args=[section.pk])
        return format_html('<a href="{}">{}</a>', url, section.account)


@admin.register(EndOfDayReport)
class EndOfDayReportAdmin(ReadOnlyAdmin):
    list_display = ["trading_day", "generated_at", "generated_by", "accounts", "orders", "fills", "files"]
    date_hierarchy = "trading_day"
    readonly_fields = ["trading_day", "generated_at", "generated_by", "accounts", "orders", "fills", "notes", "files"]
    exclude = ["json_path", "csv_path"]
    inlines = [AccountSectionInline]

    @admin.display(description="files")
    def files(self, report: EndOfDayReport) -> str:
        name = f"eod-{report.trading_day}"
        links = [(reverse("admin:tradingday_endofdayreport_file", args=[report.pk, kind]), f"{name}.{kind}")
                 for kind in ("json", "csv")]  # fmt: skip
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def get_urls(self):
        own = [path("<int:report_id>/file/<str:kind>/", self.admin_site.admin_view(self.download),
                    name="tradingday_endofdayreport_file")]  # fmt: skip
        return own + super().get_urls()

    def download(self, request: HttpRequest, report_id: int, kind: str) -> FileResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = EndOfDayReport.objects.filter(pk=report_id).first()
        found = services.report_file(report, kind) if report is not None else None
        if found is None:
            raise Http404("no such report file (made on another machine, or removed)")
        return FileResponse(found.path.open("rb"), as_attachment=True, filename=found.path.name,
                            content_type=found.content_type)  # fmt: skip


@admin.register(EndOfDayAccount)
class EndOfDayAccountAdmin(ReadOnlyAdmin):
    list_display = ["account", "day", "orders", "fills", "notional", "open_breaks"]
    list_filter = ["report__trading_day", "account"]
    search_fields = ["=account"]
    readonly_fields = ["report", "account", "orders", "fills", "notional", "open_breaks", "pretty_content"]
    exclude = ["content"]

    @admin.display(description="trading day", ordering="report__trading_day")
    def day(self, section: EndOfDayAccount):
        return section.report.trading_day

    @admin.display(description="report")
    def pretty_content(self, section: EndOfDayAccount) -> str:
        return format_html("<pre>{}</pre>", json.dumps(section.content, indent=2))


@admin.register(CloseSweep)
class CloseSweepAdmin(ReadOnlyAdmin):
    list_display = ["venue", "trading_day", "close_at", "swept_at", "outcome", "text"]
    list_filter = ["venue", "outcome"]
