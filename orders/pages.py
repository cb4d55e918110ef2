"""Browser pages: the blotter at `/`. Its data arrives over the websocket (/ws/blotter/) and its
actions go through the REST API; the page itself carries only who is looking and the venues the
ticket may route to (docs/blotter.md)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from orders import services
from risk import services as risk_services
from venues.models import Venue


def user_role(user: User) -> str:
    """The role the page names in its header. Permissions decide what the user may do; this is
    only their name for it."""
    if user.is_superuser:
        return "admin"
    if risk_services.may_manage_risk(user):
        return "risk"
    if user.has_perm(services.VIEW_ALL):
        return "compliance"
    return "trader"


@login_required
@ensure_csrf_cookie  # the page's REST calls send it back as X-CSRFToken
def blotter(request: HttpRequest) -> HttpResponse:
    venues = [{"name": v.name, "default": v.default} for v in Venue.objects.filter(active=True).order_by("name")]
    config = {
        "username": request.user.get_username(),
        "role": user_role(request.user),
        "venues": venues,
        "api": "/api/v1/",
        "websocket": "/ws/blotter/",
    }
    return render(request, "blotter.html", {"config": config, "role": config["role"]})
