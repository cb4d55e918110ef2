"""REST views of the reconciliation breaks: each one deep, calling reconciliation.services."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import services as order_services
from reconciliation import services
from reconciliation.models import STATUSES
from reconciliation.serializers import BreakSerializer, ResolveAnswerSerializer, ResolveSerializer

REFUSED = OpenApiResponse(description="Bad input or refused by the engine; the body names the field and the reason")
FORBIDDEN = OpenApiResponse(description="Only the risk and compliance roles may resolve breaks")
UNAVAILABLE = OpenApiResponse(description="Engine unavailable; nothing was changed unless it answers later")
STATUS_FILTER = [s for s, _ in STATUSES] + ["resolved"]


class BreakView(APIView):
    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.Refused):
            body = {exc.field: [exc.text], "reason": exc.reason, "detail": exc.text}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, services.NotAllowed):
            exc = exceptions.PermissionDenied(str(exc))
        elif isinstance(exc, services.NotFound):
            exc = exceptions.NotFound(str(exc))
        return super().handle_exception(exc)

    def visible(self, request: Request):
        """Breaks of the accounts the caller may see (risk and compliance: all)."""
        breaks = services.break_list()
        if request.user.has_perm(order_services.VIEW_ALL):
            return breaks
        return breaks.filter(account__in=order_services.accounts_for_user(request.user).values("code"))


class BreakListView(BreakView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=STATUS_FILTER, description="resolved: accepted or dismissed"),
            OpenApiParameter("venue", str),
            OpenApiParameter("account", str),
        ],
        responses={200: BreakSerializer(many=True), 400: REFUSED},
    )
    def get(self, request: Request) -> Response:
        """Reconciliation breaks of the accounts you may see, newest first (at most 500)."""
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in STATUS_FILTER:
            raise exceptions.ValidationError({"status": [f"one of {', '.join(STATUS_FILTER)}"]})
        breaks = services.break_list(status=wanted, venue=request.query_params.get("venue") or None,
                                     account=request.query_params.get("account") or None)  # fmt: skip
        breaks = breaks.filter(id__in=self.visible(request).values("id"))
        return Response(BreakSerializer(breaks[:500], many=True).data)


class BreakDetailView(BreakView):
    @extend_schema(responses={200: BreakSerializer, 404: OpenApiResponse()})
    def get(self, request: Request, break_id: int) -> Response:
        """One break."""
        found = self.visible(request).filter(id=break_id).first()
        if found is None:
            raise services.NotFound(f"no reconciliation break {break_id}")
        return Response(BreakSerializer(found).data)


class BreakResolveView(BreakView):
    @extend_schema(
        request=ResolveSerializer,
        responses={200: ResolveAnswerSerializer, 400: REFUSED, 403: FORBIDDEN, 404: OpenApiResponse(),
                   503: UNAVAILABLE},
    )  # fmt: skip
    def post(self, request: Request, break_id: int) -> Response:
        """Resolve an open break (risk and compliance roles), with a reason: `accept` books the venue's
        figure as an audited position adjustment (position breaks only); `dismiss` books nothing.
        Answers once the engine has recorded it."""
        if not services.may_resolve(request.user):
            raise services.NotAllowed("only the risk and compliance roles may resolve reconciliation breaks")
        incoming = ResolveSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        text = services.break_resolve(request.user, break_id, data["resolution"], data["reason"])
        found = services.break_list().get(id=break_id)
        return Response({"detail": text, "break": BreakSerializer(found).data})
