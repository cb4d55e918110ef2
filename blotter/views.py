"""The blotter page at `/`. Its data arrives over the websocket (/ws/blotter/) and its actions go
through the REST API; the page itself carries only who is looking (as the websocket's hello says
it) and the venues the ticket may route to (docs/blotter.md)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from blotter.consumers import viewer_of
from venues.models import Venue


@login_required
@ensure_csrf_cookie  # the page's REST calls send it back as X-CSRFToken
def blotter(request: HttpRequest) -> HttpResponse:
    hello = viewer_of(request.user).hello
    venues = [{"name": v.name, "default": v.default} for v in Venue.objects.filter(active=True).order_by("name")]
    config = {
        "username": hello["username"],
        "role": hello["role"],
        "venues": venues,
        "api": "/api/v1/",
        "websocket": "/ws/blotter/",
    }
    return render(request, "blotter.html", {"config": config, "role": hello["role"]})
