"""REST views of the risk controls: each one deep, calling risk.services."""

from __future__ import annotations

import redis
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms_project.api import ServiceUnavailable
from risk import services
from risk.serializers import (
    AccountLimitsAnswerSerializer,
    AccountLimitsSerializer,
    AccountUsageSerializer,
    KillSwitchAnswerSerializer,
    KillSwitchRequestSerializer,
    KillSwitchSerializer,
    LimitsChangeSerializer,
)

REFUSED = OpenApiResponse(description="Bad input or refused by the engine; the body names the field and the reason")
FORBIDDEN = OpenApiResponse(description="Your role may not do this")
UNAVAILABLE = OpenApiResponse(description="Engine unavailable; nothing was changed unless it answers later")


def refusal(refused: services.Refused) -> Response:
    body = {refused.field: [refused.text], "reason": refused.reason, "detail": refused.text}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


class RiskView(APIView):
    """Turns the services' refusals into HTTP: not allowed 403, unknown 404, refused 400 naming
    the field, the usage feed unreachable 503 (the engine's own timeouts are 503 already)."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.Refused):
            return refusal(exc)
        if isinstance(exc, services.NotAllowed):
            exc = exceptions.PermissionDenied(str(exc))
        elif isinstance(exc, services.NotFound):
            exc = exceptions.NotFound(str(exc))
        elif isinstance(exc, redis.RedisError):
            exc = ServiceUnavailable(f"risk usage unavailable: {exc}")
        return super().handle_exception(exc)


class LimitsListView(RiskView):
    @extend_schema(responses={200: AccountLimitsSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """The limits of the accounts you may see; null is no limit."""
        return Response(AccountLimitsSerializer(services.limits_list(request.user), many=True).data)


class LimitsDetailView(RiskView):
    @extend_schema(responses={200: AccountLimitsSerializer, 403: FORBIDDEN, 404: OpenApiResponse()})
    def get(self, request: Request, account: str) -> Response:
        """One account's limits."""
        return Response(AccountLimitsSerializer(services.limits_get(request.user, account)).data)

    @extend_schema(
        request=LimitsChangeSerializer,
        responses={200: AccountLimitsAnswerSerializer, 400: REFUSED, 403: FORBIDDEN, 503: UNAVAILABLE},
    )
    def patch(self, request: Request, account: str) -> Response:
        """Change limits (risk role). With `symbol`: that symbol's overrides. Answers once recorded."""
        if not services.may_manage_risk(request.user):
            raise services.NotAllowed("only the risk role may change risk limits")
        incoming = LimitsChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        reason, symbol = data.pop("reason"), data.pop("symbol", None)
        answer = services.limits_change(user=request.user, account=account, changes=data, reason=reason,
                                        symbol=symbol)  # fmt: skip
        body = AccountLimitsSerializer(services.limits_get(request.user, account)).data
        return Response({**body, "detail": answer.text})


class UsageView(RiskView):
    @extend_schema(
        parameters=[OpenApiParameter("account", str, description="One account's usage (default: every visible one)")],
        responses={200: AccountUsageSerializer(many=True), 403: FORBIDDEN, 404: OpenApiResponse()},
    )
    def get(self, request: Request) -> Response:
        """Positions, pending exposure, notional and credit used, and the headroom of each limit, live."""
        account = request.query_params.get("account") or None
        return Response(AccountUsageSerializer(services.usage_list(request.user, account), many=True).data)


class KillSwitchListView(RiskView):
    @extend_schema(responses={200: KillSwitchSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """The engaged kill switches you may see."""
        return Response(KillSwitchSerializer(services.kill_switch_list(request.user), many=True).data)


class KillSwitchEngageView(RiskView):
    @extend_schema(
        request=KillSwitchRequestSerializer,
        responses={201: KillSwitchAnswerSerializer, 400: REFUSED, 403: FORBIDDEN, 503: UNAVAILABLE},
    )
    def post(self, request: Request) -> Response:
        """Engage: new orders in scope are rejected (kill_switch) and its live orders canceled.
        The risk role: any scope; a trader: an account granted to them."""
        incoming = KillSwitchRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        answer = services.kill_switch_engage(user=request.user, scope=data["scope"], target=data.get("target"),
                                             reason=data["reason"])  # fmt: skip
        switch = services.kill_switch_get(data["scope"], data.get("target"))
        body = {"switch": KillSwitchSerializer(switch).data if switch else None, "detail": answer.text}
        return Response(body, status=status.HTTP_201_CREATED)


class KillSwitchReleaseView(RiskView):
    @extend_schema(
        request=KillSwitchRequestSerializer,
        responses={200: KillSwitchAnswerSerializer, 400: REFUSED, 403: FORBIDDEN, 503: UNAVAILABLE},
    )
    def post(self, request: Request) -> Response:
        """Release (risk role only): trading in scope may resume."""
        if not services.may_manage_risk(request.user):
            raise services.NotAllowed("only the risk role may release a kill switch")
        incoming = KillSwitchRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        answer = services.kill_switch_release(user=request.user, scope=data["scope"], target=data.get("target"),
                                              reason=data["reason"])  # fmt: skip
        switch = services.kill_switch_get(data["scope"], data.get("target"))
        body = {"switch": KillSwitchSerializer(switch).data if switch else None, "detail": answer.text}
        return Response(body, status=status.HTTP_200_OK)
