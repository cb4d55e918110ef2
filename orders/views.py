"""REST views: each one deep, calling a service in orders.services."""

from __future__ import annotations

import redis
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authentication import get_authorization_header
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from oms_project.asyncweb import AsyncAPIView, plain
from oms_project.rest import BoundedLimitOffsetPagination
from orders import edge, pages, references, services
from orders.domain.values import OrderType, Side, TimeInForce
from orders.filters import EventFilter, FillFilter, OrderFilter, PositionFilter
from orders.models import Instrument
from orders.serializers import (
    ORDER_ROW_FIELDS,
    AccountSerializer,
    CancelSerializer,
    EventSerializer,
    FillSerializer,
    InstrumentSerializer,
    OrderCreateSerializer,
    OrderSerializer,
    PositionSerializer,
    ReplaceSerializer,
    order_representation,
    order_rows,
)
from risk import services as risk_services
from risk.serializers import InstrumentRiskChangeSerializer
from risk.views import refusal as risk_refusal

ID_PATTERN = r"[0-9]{1,18}"  # fits a bigint; longer ids are simply not found

# A refused cancel or replace: 409 when the order's state is the reason, 400 naming the
# field when the request's values are.
REFUSAL_FIELDS = {
    "quantity_below_cum_qty": "quantity",
    "quantity_not_on_lot": "quantity",
    "invalid_quantity": "quantity",
    "price_not_on_tick": "limit_price",
    "invalid_price": "limit_price",
    "price_on_market_order": "limit_price",
    "missing_limit_price": "limit_price",
    "nothing_to_replace": "non_field_errors",
    "duplicate_cl_ord_id": "cl_ord_id",
    "quantity_too_large": "quantity",
    "price_too_large": "limit_price",
}

Refusal = inline_serializer(
    "Refusal", {"detail": serializers.CharField(), "reason": serializers.CharField(), "order": OrderSerializer()}
)


def _refusal(answer: services.EngineAnswer) -> Response:
    body: dict = {"detail": answer.text, "reason": answer.reason}
    if answer.order is not None:
        body["order"] = order_representation(answer.order)
    field = REFUSAL_FIELDS.get(answer.reason)
    if field is not None:
        body[field] = [answer.text]
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if answer.reason == "unknown_order":
        return Response(body, status=status.HTTP_404_NOT_FOUND)
    return Response(body, status=status.HTTP_409_CONFLICT)


def _submission(data: dict) -> dict:
    """A validated OrderCreateSerializer's data as services.submit_command's fields."""
    return {
        "account": data["account"],
        "cl_ord_id": data["cl_ord_id"],
        "symbol": data["symbol"],
        "side": Side(data["side"]),
        "quantity": data["quantity"],
        "order_type": OrderType(data["order_type"]),
        "time_in_force": TimeInForce(data["time_in_force"]),
        "limit_price": data.get("limit_price"),
        "venue": data.get("venue"),
        "routing": data.get("routing"),
    }


def _created(answer: services.EngineAnswer) -> Response:
    if answer.order is None:
        return _refusal(answer)
    code = status.HTTP_200_OK if answer.outcome == "duplicate" else status.HTTP_201_CREATED
    return Response(order_representation(answer.order), status=code)


class OrderEntryView(AsyncAPIView):
    """POST /api/v1/orders/ on the event loop: OrderViewSet.create's contract (its schema is the
    one published), with no thread held while the engine answers and no database read in the common
    case: the user from the token cache, the account grant, symbol and venue from the cached
    reference data (orders.edge), the order as committed from the engine's reply."""

    async def post(self, request: Request) -> Response:
        lookups = await edge.cache.alookups_for(request.user)
        incoming = OrderCreateSerializer(data=request.data, context={"request": request, "lookups": lookups})
        incoming.is_valid(raise_exception=True)
        return _created(await services.aorder_submit(user=request.user, **_submission(incoming.validated_data)))


# GET /api/v1/orders/ on the event loop: OrderViewSet.list's contract (its schema is the one
# published), the page's JSON built by PostgreSQL in one statement (orders.pages), for a caller DRF
# would authenticate (a token, or a session) asking for JSON. The rest goes to OrderViewSet.list,
# in a thread as before: DRF's 401 and 403, the browsable API, a value a filter refuses (its 400).

_JSON_MEDIA = frozenset({"*/*", "application/*", "application/json"})
_page_plan: pages.FilterPlan | None = None  # built on first use (the app registry must be ready)


async def _page_caller(request: HttpRequest):
    """The active user DRF's authenticators would find (a token first, then the session), or None
    where DRF's answer is other than a page (no credentials, a bad token, another scheme)."""
    forced = getattr(request, "_force_auth_user", None)  # DRF's test client (force_authenticate)
    if forced is not None:
        return forced if forced.is_active else None
    words = get_authorization_header(request).split()
    if words:
        if len(words) != 2 or words[0].lower() != b"token":
            return None
        try:
            entry = await edge.cache.atoken(words[1].decode())
        except UnicodeError:
            return None
        return entry.user if entry.token is not None and entry.user.is_active else None
    user = await request.auser()  # type: ignore[attr-defined]
    return user if user.is_authenticated and user.is_active else None


def _asks_for_json(request: HttpRequest) -> bool:
    """DRF's content negotiation would choose JSONRenderer: no Accept, or only JSON or wildcards."""
    if "format" in request.GET:
        return False
    accept = request.META.get("HTTP_ACCEPT")
    return not accept or all(part.split(";")[0].strip() in _JSON_MEDIA for part in accept.split(","))


async def _order_page(request: HttpRequest) -> HttpResponse:
    global _page_plan
    user = await _page_caller(request) if _asks_for_json(request) else None
    if user is not None:
        if _page_plan is None:
            _page_plan = pages.FilterPlan(OrderFilter)
        try:
            return await pages.order_page(
                request, _page_plan, await edge.cache.avisible_accounts(user), BoundedLimitOffsetPagination()
            )
        except pages.NotServed:
            pass
    return await sync_to_async(_listed)(request)


_order_entry = OrderEntryView.as_view()
_order_list = None  # OrderViewSet's list view, as the router builds it (on first use: urls import this module)


@csrf_exempt  # as every DRF view: SessionAuthentication checks CSRF itself, token clients send none
async def orders_collection(request: HttpRequest) -> HttpResponse:
    """/api/v1/orders/: a POST to the async OrderEntryView, a GET to the async page (_order_page),
    anything else to the router's OrderViewSet view, in a thread as Django runs a sync view."""
    if request.method == "POST":
        return await _order_entry(request)
    if request.method == "GET":
        return await _order_page(request)
    return await sync_to_async(_listed)(request)


def _listed(request: HttpRequest) -> HttpResponse:
    global _order_list
    if _order_list is None:
        _order_list = OrderViewSet.as_view({"get": "list", "post": "create"})
    response = _order_list(request)
    return plain(response) if isinstance(response, Response) else response


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Orders of the accounts granted to you: submit, list, look up, cancel, replace."""

    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return services.orders_for_user(self.request.user)

    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Orders, newest first. One query for the page (plain rows: serializers.order_rows), one to count."""
        queryset = self.filter_queryset(self.get_queryset()).values_list(*ORDER_ROW_FIELDS)
        page = self.paginate_queryset(queryset)
        assert page is not None  # the API always paginates (settings: DEFAULT_PAGINATION_CLASS)
        return self.get_paginated_response(order_rows(page))

    def _order(self, pk: str, *, act: str | None = None):
        order = services.order_get_for_user(self.request.user, int(pk))
        if order is None:
            raise NotFound(f"no order {pk} in your accounts")
        if act and not services.order_actionable_by(self.request.user, order, cancel=act == "cancel"):
            raise PermissionDenied(f"you may not {act} orders of account {order.account_id}")
        return order

    @extend_schema(
        request=OrderCreateSerializer,
        responses={
            201: OpenApiResponse(OrderSerializer, "Created: accepted (pending_new) or rejected by pre-trade risk"),
            200: OpenApiResponse(OrderSerializer, "The existing order: this cl_ord_id was already used today"),
            400: OpenApiResponse(description="Bad input; the body names each field"),
            503: OpenApiResponse(description="Engine unavailable; retrying with the same cl_ord_id is safe"),
        },
    )
    def create(self, request: Request) -> Response:
        """Submit an order. The same cl_ord_id on the same account and trading day returns the existing order."""
        # Served by OrderEntryView (orders_collection routes a POST there); kept for the schema and
        # as the same contract in a thread.
        incoming = OrderCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        return _created(services.order_submit(user=request.user, **_submission(incoming.validated_data)))

    @extend_schema(responses={200: EventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str) -> Response:
        """The order's full history, oldest first."""
        order = self._order(pk)
        history = services.events_for_user(request.user).filter(stream_type="order", stream_id=order.id)
        return Response(EventSerializer(history.order_by("stream_version"), many=True).data)

    @extend_schema(
        request=CancelSerializer,
        responses={
            202: OpenApiResponse(OrderSerializer, "Accepted: the order is pending_cancel"),
            200: OpenApiResponse(OrderSerializer, "This cancel (same cl_ord_id) was already taken"),
            409: OpenApiResponse(Refusal, "Refused: too late to cancel, or a request is pending"),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Ask to cancel the order."""
        order = self._order(pk, act="cancel")
        incoming = CancelSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        answer = services.order_cancel(
            user=request.user, order=order, cl_ord_id=incoming.validated_data.get("cl_ord_id")
        )
        return self._request_response(answer)

    @extend_schema(
        request=ReplaceSerializer,
        responses={
            202: OpenApiResponse(OrderSerializer, "Accepted: the order is pending_replace"),
            200: OpenApiResponse(OrderSerializer, "This replace (same cl_ord_id) was already taken"),
            400: OpenApiResponse(Refusal, "Refused for its values, e.g. quantity below cum_qty"),
            409: OpenApiResponse(Refusal, "Refused: too late to replace, or a request is pending"),
        },
    )
    @action(detail=True, methods=["post"])
    def replace(self, request: Request, pk: str) -> Response:
        """Ask to change the order's quantity and/or limit price."""
        order = self._order(pk, act="replace")
        incoming = ReplaceSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        answer = services.order_replace(
            user=request.user,
            order=order,
            quantity=data.get("quantity"),
            limit_price=data.get("limit_price"),
            cl_ord_id=data.get("cl_ord_id"),
        )
        return self._request_response(answer)

    @staticmethod
    def _request_response(answer: services.EngineAnswer) -> Response:
        if answer.outcome == "accepted" and answer.order is not None:
            return Response(order_representation(answer.order), status=status.HTTP_202_ACCEPTED)
        if answer.outcome == "duplicate" and answer.order is not None:
            return Response(order_representation(answer.order), status=status.HTTP_200_OK)
        return _refusal(answer)


class EventCursorPagination(CursorPagination):
    ordering = "position"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000

    def decode_cursor(self, request: Request):
        cursor = super().decode_cursor(request)
        # DRF takes the position from the client as a string; it must be a log position.
        if cursor is not None and cursor.position is not None and not str(cursor.position).isdigit():
            raise NotFound(self.invalid_cursor_message)
        return cursor


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log of your accounts' orders, in log order, cursor-paginated by position."""

    serializer_class = EventSerializer
    filterset_class = EventFilter
    pagination_class = EventCursorPagination
    lookup_field = "position"
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return services.events_for_user(self.request.user)


class FillViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = FillSerializer
    filterset_class = FillFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return services.fills_for_user(self.request.user)


class PositionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = PositionSerializer
    filterset_class = PositionFilter

    def get_queryset(self):
        return services.positions_for_user(self.request.user)


class InstrumentViewSet(viewsets.ReadOnlyModelViewSet):
    """Instruments with the market as the engine holds it; the risk role changes their controls."""

    serializer_class = InstrumentSerializer
    queryset = Instrument.objects.all()
    lookup_field = "symbol"
    lookup_value_regex = r"[A-Za-z0-9._-]{1,32}"
    filterset_fields = ["asset_class", "currency", "active"]

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        try:
            context["references"] = references.read()
        except redis.RedisError:
            context["references"] = {}  # shown as no reference: the engine cannot be asked either
        return context

    @extend_schema(
        request=InstrumentRiskChangeSerializer,
        responses={
            200: InstrumentSerializer,
            400: OpenApiResponse(description="Bad input or refused by the engine; the body names the field"),
            403: OpenApiResponse(description="Only the risk role may change instrument controls"),
            503: OpenApiResponse(description="Engine unavailable"),
        },
    )
    def partial_update(self, request: Request, symbol: str) -> Response:
        """Change the instrument's price band, max reference age or restricted flag (risk role; audited)."""
        if not risk_services.may_manage_risk(request.user):
            raise PermissionDenied("only the risk role may change instrument risk controls")
        instrument = self.get_object()
        incoming = InstrumentRiskChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        changes = dict(incoming.validated_data)
        reason = changes.pop("reason")
        try:
            answer = risk_services.instrument_risk_change(
                user=request.user, symbol=instrument.symbol, changes=changes, reason=reason
            )
        except risk_services.Refused as refused:
            return risk_refusal(refused)
        instrument.refresh_from_db()
        body = self.get_serializer(instrument).data
        return Response({**body, "detail": answer.text})


class AccountViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AccountSerializer
    lookup_field = "code"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,32}"

    def get_queryset(self):
        return services.accounts_for_user(self.request.user)
