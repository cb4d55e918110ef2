"""API plumbing shared by every app: the exception handler and the health endpoint."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, connection
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import APIException
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from gateway import health as gateway_health
from oms_project import workers
from oms_project.rest import SafeJSONParser
from orders import bus, venue_feed
from reconciliation import services as reconciliation_services
from risk import services as risk_services
from venues.models import Venue

log = logging.getLogger("oms.api")


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "engine unavailable"
    default_code = "engine_unavailable"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: engine timeouts are 503 (safe to retry), and anything unexpected
    is a logged 500 with a plain JSON body instead of an HTML page."""
    if isinstance(exc, bus.EngineUnavailable):
        exc = ServiceUnavailable(f"engine unavailable: {exc}; retrying with the same cl_ord_id is safe")
    elif isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"request body too large: the limit is {limit} bytes"},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    elif isinstance(exc, SuspiciousOperation):
        return Response({"detail": f"bad request: {exc}"}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        log.exception("unhandled error in %s", context.get("view"), exc_info=exc)
        return Response({"detail": "internal error"}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return response


def component_health() -> dict[str, str]:
    """Each component: "ok" or what is wrong."""
    components: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        components["database"] = "ok"
    except DatabaseError as exc:
        components["database"] = f"unreachable: {exc}".strip()
    try:
        bus.client().ping()
        components["redis"] = "ok"
        engine = bus.engine_health()
        if engine is None:
            components["engine"] = "not running (no heartbeat)"
        elif engine["state"] != "live":
            components["engine"] = f"{engine['state']} (pid {engine['pid']})"
        else:
            components["engine"] = "ok"
        if settings.OMS_FIX_GATEWAY:
            components["fix_acceptor"] = gateway_health.component()
        if settings.OMS_CELERY:
            components["celery"] = workers.component()
    except Exception as exc:  # any Redis failure means: redis, engine, gateway and workers unknown
        components["redis"] = f"unreachable: {exc}"
        components["engine"] = "unknown (redis unreachable)"
        if settings.OMS_FIX_GATEWAY:
            components["fix_acceptor"] = "unknown (redis unreachable)"
        if settings.OMS_CELERY:
            components["celery"] = "unknown (redis unreachable)"
    components.update(_venue_health())
    try:
        components["reconciliation"] = reconciliation_services.health_component()
    except DatabaseError as exc:
        components["reconciliation"] = f"unknown (database unreachable: {exc})"
    return components


# Components that report without failing the check: an open reconciliation break is news for a
# person (risk, compliance), not a system fault; health says it and stays green.
ADVISORY_COMPONENTS = frozenset({"reconciliation"})


def _venue_health() -> dict[str, str]:
    """Each active venue's FIX session, as its connector last reported it."""
    try:
        names = list(Venue.objects.filter(active=True).order_by("name").values_list("name", flat=True))
    except DatabaseError:
        return {}
    try:
        states = venue_feed.read(names)
    except Exception as exc:
        return {f"venue:{name}": f"unknown (redis unreachable: {exc})" for name in names}
    return {f"venue:{name}": venue_feed.refusal(name, states[name]) or "ok" for name in names}


def warnings() -> list[str]:
    """Engaged kill switches and missing or stale reference prices: news, not failures."""
    try:
        return risk_services.risk_warnings_list()
    except Exception as exc:  # a failing store is already a failing component above
        return [f"risk warnings unavailable: {exc}"]


HEALTH_FIELDS = {
    "status": serializers.CharField(),
    "components": serializers.DictField(),
    "warnings": serializers.ListField(child=serializers.CharField()),
}


@extend_schema(
    responses={
        200: inline_serializer("Health", HEALTH_FIELDS),
        503: inline_serializer("Unhealthy", HEALTH_FIELDS),
    },
    auth=[],
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health(request: Request) -> Response:
    """Each component with "ok" or what is wrong; HTTP 200 only when all are ok. `reconciliation`
    says how many breaks are open (and the oldest) without failing the check. `warnings` name
    engaged kill switches and missing or stale reference prices, without failing the check."""
    components = component_health()
    healthy = all(value == "ok" for name, value in components.items() if name not in ADVISORY_COMPONENTS)
    response = Response(
        {"status": "ok" if healthy else "degraded", "components": components, "warnings": warnings()},
        status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    if not healthy:
        # A degraded component is news, not a server error: one warning naming it, instead of
        # Django's "ERROR Service Unavailable" for every probe.
        failing = {name: state for name, state in components.items()
                   if state != "ok" and name not in ADVISORY_COMPONENTS}  # fmt: skip
        log.warning("health: degraded: %s", failing)
        response._has_been_logged = True  # type: ignore[attr-defined]  # (django.utils.log.log_response)
    return response


async def ping(request) -> JsonResponse:
    """GET /api/v1/ping/: the web process answers (no login, no database, no Redis): a liveness
    probe, and the bare Django endpoint bench/rest_entry.py measures the REST API against."""
    return JsonResponse({"status": "ok"})


class RejectNulMiddleware:
    """PostgreSQL cannot store or compare a NUL character: refuse it anywhere in the URL (path
    or query string) with a 400 before any view, admin filter or lookup can pass it to SQL."""

    sync_capable = True
    async_capable = True  # on the event loop: a sync-only middleware sends every request through a thread

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self._acall(request)
        return self._refusal(request) or self.get_response(request)

    async def _acall(self, request):
        return self._refusal(request) or await self.get_response(request)

    @staticmethod
    def _refusal(request) -> JsonResponse | None:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return JsonResponse({"detail": "NUL characters are not allowed in URLs"}, status=400)
        return None


def not_found(request, exception=None):
    """404 as JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"no such resource: {request.path}"}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "internal error"}, status=500)
    from django.views.defaults import server_error as default

    return default(request)


class TokenView(ObtainAuthToken):
    """POST username and password, get a token (as DRF's view, with the safe JSON parser)."""

    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]
