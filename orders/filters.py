from django.db.models import Q
from django_filters import rest_framework as filters

from orders.domain.values import OrdStatus, Side, Strategy
from orders.models import Event, Fill, Order, Position


class FilterSet(filters.FilterSet):
    """django-filter's FilterSet, its form class built once per filter set rather than per request
    (a new class of a dozen fields each time: a sixth of a page's cost). Safe while no filter's
    field depends on the request (no callable querysets here)."""

    @classmethod
    def _form_class(cls, filterset: filters.FilterSet) -> type:
        built = cls.__dict__.get("_built_form_class")
        if built is None:
            built = filters.FilterSet.get_form_class(filterset)
            cls._built_form_class = built
        return built

    def get_form_class(self):
        return type(self)._form_class(self)


class OrderFilter(FilterSet):
    status = filters.MultipleChoiceFilter(choices=[(s.value, s.value) for s in OrdStatus])
    side = filters.ChoiceFilter(choices=[(s.value, s.value) for s in Side])
    account = filters.CharFilter(field_name="account_id")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    parent = filters.NumberFilter(field_name="parent_id", min_value=1, max_value=2**63 - 1, label="children of")
    top_level = filters.BooleanFilter(
        field_name="parent_id", lookup_expr="isnull", label="only orders without a parent"
    )
    strategy = filters.ChoiceFilter(choices=[(s.value, s.value) for s in Strategy], label="parent orders by strategy")

    class Meta:
        model = Order
        fields = ["cl_ord_id", "status", "symbol", "account", "side", "trading_day", "venue", "parent", "strategy"]


class FillFilter(FilterSet):
    account = filters.CharFilter(field_name="account_id")
    order = filters.NumberFilter(
        method="of_order", min_value=1, max_value=2**63 - 1, label="an order's fills (a parent's: its children's)"
    )

    def of_order(self, queryset, name, value):
        children = Order.objects.filter(parent_id=value).values("id")
        return queryset.filter(Q(order_id=value) | Q(order_id__in=children))

    class Meta:
        model = Fill
        fields = ["order", "account", "symbol"]


class PositionFilter(FilterSet):
    account = filters.CharFilter(field_name="account_id")

    class Meta:
        model = Position
        fields = ["account", "symbol"]


class EventFilter(FilterSet):
    order = filters.NumberFilter(field_name="stream_id", min_value=1, max_value=2**63 - 1)
    after = filters.NumberFilter(
        field_name="position", lookup_expr="gt", min_value=0, max_value=2**63 - 1, label="position greater than"
    )
    until = filters.NumberFilter(
        field_name="position", lookup_expr="lte", min_value=0, max_value=2**63 - 1, label="position at most"
    )

    class Meta:
        model = Event
        fields = ["order", "stream_type", "event_type", "account", "actor", "after", "until"]
