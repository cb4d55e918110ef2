"""Risk admin: limits, instrument controls and the kill switch. Every change goes through the
engine as the REST API's do (risk.services): the form asks for a reason, save_model sends the
command instead of saving, and the engine's projection writes the row in its own transaction.
Only the risk role (risk.manage_risk) may change anything here; the rest may look."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from orders import bus
from orders.admin import InstrumentAdmin
from orders.models import Instrument
from risk import configuration, services
from risk.domain import Scope
from risk.models import LIMIT_FIELDS, AccountLimits, KillSwitch, SymbolLimits

REASON_HELP = "Why: recorded in the audit log with the change (required)."
INSTRUMENT_RISK_FIELDS = ("price_band_pct", "max_reference_age_s", "restricted")


class EngineChangeAdmin(admin.ModelAdmin):
    """save_model sends a command to the engine instead of saving. A refusal is shown as an error
    and the user is sent back to the form rather than told it was saved."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return services.may_manage_risk(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return services.may_manage_risk(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a limit is removed by setting it empty (no limit), which is audited

    def send(self, request: HttpRequest, change: Any) -> bool:
        """Run `change` (a call into risk.services); True when the engine recorded it or had nothing to do."""
        try:
            answer = change()
        except services.Refused as refused:
            messages.error(request, f"refused ({refused.reason}): {refused.text}")
        except (services.NotAllowed, services.NotFound) as exc:
            messages.error(request, str(exc))
        except bus.EngineUnavailable as exc:
            messages.error(request, f"engine unavailable, nothing recorded: {exc}")
        else:
            level = messages.SUCCESS if answer.outcome == "accepted" else messages.INFO
            messages.add_message(request, level, f"recorded by the engine: {answer.text}")
            return True
        request._engine_refused = True  # type: ignore[attr-defined]
        return False

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> HttpResponse:
        if getattr(request, "_engine_refused", False) or obj.pk is None:
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        if getattr(request, "_engine_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def message_user(self, request: HttpRequest, message: str, *args: Any, **kwargs: Any) -> None:
        if not getattr(request, "_engine_refused", False):  # no "changed successfully" after a refusal
            super().message_user(request, message, *args, **kwargs)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None if obj.pk is None else super().log_addition(request, obj, message)


class LimitsForm(forms.ModelForm):
    reason = forms.CharField(max_length=1000, help_text=REASON_HELP, widget=forms.TextInput(attrs={"size": 80}))

    def clean(self) -> dict:
        data = super().clean()
        for name in LIMIT_FIELDS:
            value = data.get(name)
            try:
                configuration.parse_limit(name, None if value is None else format(value, "f"))
            except configuration.InvalidChange as invalid:
                self.add_error(name, str(invalid))
        return data

    def limit_changes(self) -> dict[str, Decimal | None]:
        changed = [name for name in LIMIT_FIELDS if name in self.changed_data]
        return {name: self.cleaned_data.get(name) for name in changed}


class LimitsAdmin(EngineChangeAdmin):
    form = LimitsForm
    list_filter = ["account"]
    search_fields = ["account__code"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.key_fields if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        symbol = getattr(obj, "symbol", None)
        changes = form.limit_changes()
        if not changes:
            messages.info(request, "no limit changed: nothing sent")
        elif self.send(request, lambda: services.limits_change(
            user=request.user, account=obj.account_id, symbol=symbol, changes=changes,
            reason=form.cleaned_data["reason"],
        )):  # fmt: skip
            rows = self.model.objects.filter(account_id=obj.account_id)
            row = (rows.filter(symbol=symbol) if symbol else rows).first()
            obj.pk = row.pk if row is not None else None  # the engine's projection wrote it

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # nothing related; and nothing to save here


@admin.register(AccountLimits)
class AccountLimitsAdmin(LimitsAdmin):
    list_display = ["account", *LIMIT_FIELDS]
    key_fields = ["account"]


@admin.register(SymbolLimits)
class SymbolLimitsAdmin(LimitsAdmin):
    list_display = ["account", "symbol", *LIMIT_FIELDS]
    list_filter = ["account", "symbol"]
    key_fields = ["account", "symbol"]


# -- instruments: reference data saved here, risk controls through the engine --------------------


class InstrumentRiskForm(forms.ModelForm):
    reason = forms.CharField(max_length=1000, required=False, help_text=REASON_HELP + " For a risk control change.",
                             widget=forms.TextInput(attrs={"size": 80}))  # fmt: skip

    def risk_changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in INSTRUMENT_RISK_FIELDS if name in self.changed_data}

    def clean(self) -> dict:
        data = super().clean()
        if self.instance.pk is not None and self.risk_changes() and not (data.get("reason") or "").strip():
            self.add_error("reason", "a reason is required to change a risk control")
        return data


admin.site.unregister(Instrument)


@admin.register(Instrument)
class InstrumentRiskAdmin(EngineChangeAdmin, InstrumentAdmin):
    """orders' instrument admin, with the risk controls changed through the engine (audited)."""

    form = InstrumentRiskForm
    list_display = [*InstrumentAdmin.list_display, "price_band_pct", "max_reference_age_s", "restricted"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return InstrumentAdmin.has_add_permission(self, request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The risk role changes the controls even without the right to edit reference data.
        return InstrumentAdmin.has_change_permission(self, request, obj) or services.may_manage_risk(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return InstrumentAdmin.has_delete_permission(self, request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly: list[str] = []
        if not InstrumentAdmin.has_change_permission(self, request, obj):
            readonly += [f.name for f in Instrument._meta.fields if f.editable and f.name not in INSTRUMENT_RISK_FIELDS]
        # A new instrument starts on its asset class's defaults; the engine must know it before
        # its controls can change. Only the risk role changes controls.
        if obj is None or not services.may_manage_risk(request.user):
            readonly += INSTRUMENT_RISK_FIELDS
        return readonly

    def save_model(self, request: HttpRequest, obj: Instrument, form: Any, change: bool) -> None:
        risk_changes = form.risk_changes() if change else {}
        if not change:
            obj.save()
        else:
            reference_fields = [f for f in form.changed_data if f not in (*INSTRUMENT_RISK_FIELDS, "reason")]
            if reference_fields:
                obj.save(update_fields=reference_fields)
        if risk_changes:
            self.send(request, lambda: services.instrument_risk_change(
                user=request.user, symbol=obj.symbol, changes=risk_changes, reason=form.cleaned_data["reason"]
            ))  # fmt: skip
            obj.refresh_from_db()


# -- kill switch ----------------------------------------------------------------------------------


class KillSwitchForm(forms.Form):
    scope = forms.ChoiceField(choices=[(s.value, s.value) for s in Scope])
    target = forms.CharField(max_length=150, required=False, help_text="Account code, username or venue name; "
                             "empty for the firm.")  # fmt: skip
    reason = forms.CharField(max_length=1000, help_text=REASON_HELP, widget=forms.TextInput(attrs={"size": 80}))
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict:
        data = super().clean()
        scope, target = data.get("scope"), (data.get("target") or "").strip()
        if scope and scope != Scope.FIRM and not target:
            self.add_error("target", f"a {scope} kill switch needs a target")
        if scope == Scope.FIRM and target:
            self.add_error("target", "the firm kill switch takes no target")
        data["target"] = target or None
        return data


@admin.register(KillSwitch)
class KillSwitchAdmin(admin.ModelAdmin):
    """Engaged first. Rows are the log's projection: engage and release from the buttons."""

    list_display = ["scope", "target", "engaged", "engaged_by", "engaged_at", "engage_reason", "canceled",
                    "released_by", "released_at", "release_reason"]  # fmt: skip
    list_filter = ["engaged", "scope"]
    ordering = ["-engaged", "scope", "target"]
    change_list_template = "admin/risk/killswitch/change_list.html"
    actions = ["release_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        return [
            path("engage/", self.admin_site.admin_view(self.engage_view), name="risk_killswitch_engage"),
            path("release/", self.admin_site.admin_view(self.release_view), name="risk_killswitch_release"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        context = {**(extra_context or {}), "may_manage_risk": services.may_manage_risk(request.user)}
        return super().changelist_view(request, context)

    def engage_view(self, request: HttpRequest) -> HttpResponse:
        return self._switch_view(request, "engage")

    def release_view(self, request: HttpRequest) -> HttpResponse:
        return self._switch_view(request, "release")

    def _switch_view(self, request: HttpRequest, act: str) -> HttpResponse:
        """A form, then a page asking to confirm what exactly will be engaged or released."""
        form = KillSwitchForm(request.POST or None, initial=request.GET.dict() or None)
        confirm = False
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if data["confirmed"]:
                call = services.kill_switch_engage if act == "engage" else services.kill_switch_release
                try:
                    answer = call(user=request.user, scope=data["scope"], target=data["target"],
                                  reason=data["reason"])  # fmt: skip
                except services.Refused as refused:
                    form.add_error(refused.field if refused.field in form.fields else None, refused.text)
                except services.NotAllowed as exc:
                    form.add_error(None, str(exc))
                except bus.EngineUnavailable as exc:
                    form.add_error(None, f"engine unavailable, nothing recorded: {exc}")
                else:
                    messages.success(request, answer.text)
                    return HttpResponseRedirect(reverse("admin:risk_killswitch_changelist"))
            else:
                confirm = True
                form = KillSwitchForm(initial={**data, "confirmed": True})
                for name in ("scope", "target", "reason"):
                    form.fields[name].widget = forms.HiddenInput()
        name = None
        if confirm:
            scope, target = form.initial["scope"], form.initial["target"]
            name = "the FIRM" if scope == Scope.FIRM else f"the {scope} {target}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{act.capitalize()} a kill switch",
            "form": form,
            "act": act,
            "confirm": confirm,
            "switch_name": name,
        }
        return render(request, "admin/risk/killswitch/switch_form.html", context)

    @admin.action(description="Release the selected kill switches (risk role)")
    def release_selected(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        engaged = queryset.filter(engaged=True)
        if engaged.count() != 1:
            self.message_user(request, "select one engaged kill switch to release", messages.WARNING)
            return None
        switch = engaged.get()
        url = reverse("admin:risk_killswitch_release")
        return HttpResponseRedirect(f"{url}?scope={switch.scope}&target={switch.target}")
