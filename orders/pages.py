"""A page of orders built by PostgreSQL, served on the event loop.

`GET /api/v1/orders/` through DRF costs the web ~5-7 ms a 50-row page: django-filter's form, Django's
query building, psycopg decoding 50 x 27 values into Python objects, and turning them back into JSON.
Here PostgreSQL does that work where the rows are: one statement answers the page's rows as the
JSON text OrderSerializer would give (row_to_json over columns shaped as the serializer shapes
them) and the count, and the web passes the text through, with no thread held.

The contract does not change: the same filters (OrderFilter is still the declaration: its form
fields clean each value, its filters' field names and lookups say the SQL), the same visibility
(the accounts granted to the caller, from the worker's cached grants: orders.edge), the same
pagination (BoundedLimitOffsetPagination reads limit and offset and makes `next` and `previous`),
and the same JSON (held equal to OrderSerializer over every kind of order by
tests/integration/test_rest_edge.py). What this path does not serve goes to DRF's view, which
answers it as before: a value a filter refuses (DRF's 400 names the field), a filter with a method
of its own, the browsable API.

Where the statement runs: in the web server (oms_project.web_worker calls `connect_on_loop`), on an async
connection of the worker's own (psycopg_pool, a pool per event loop: a worker's one loop), with no
thread; elsewhere (Django's test client, whose requests each run a loop of their own inside the
test's transaction) through Django's connection in a thread, where the caller's writes are visible.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import django_filters
import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, QueryDict
from django_filters.constants import EMPTY_VALUES
from psycopg_pool import AsyncConnectionPool

from oms_project.rest import BoundedLimitOffsetPagination

# -- the rows as JSON, shaped as serializers.order_rows shapes them -------------------------------


def _decimal(column: str) -> str:
    """CompactDecimalField: "100", "190.5" (no padding, never an exponent)."""
    return f"trim_scale({column})::text"


def _utc(column: str) -> str:
    """DRF's DateTimeField in UTC: ISO 8601 with "Z", microseconds only when there are some."""
    return (
        f"to_char({column} AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', {column}) = {column} "
        """THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""
    )


# (JSON key, SQL expression over orders_order), in OrderSerializer's field order.
ORDER_JSON_COLUMNS = (
    ("id", "id"),
    ("account", "account_code"),
    ("cl_ord_id", "cl_ord_id"),
    ("symbol", "symbol"),
    ("side", "side"),
    ("quantity", _decimal("quantity")),
    ("order_type", "order_type"),
    ("limit_price", _decimal("limit_price")),
    ("time_in_force", "time_in_force"),
    ("venue", "venue"),
    ("parent", "parent_id"),
    ("strategy", "strategy"),
    ("status", "status"),
    ("cum_qty", _decimal("cum_qty")),
    ("leaves_qty", _decimal("leaves_qty")),
    ("avg_px", _decimal("avg_px")),
    ("reject_reason", "reject_reason"),
    ("reject_text", "CASE WHEN status = 'rejected' THEN text ELSE '' END"),
    ("text", "text"),
    (
        "pending",
        "CASE WHEN pending_kind <> '' THEN json_build_object('kind', pending_kind, 'cl_ord_id', pending_cl_ord_id, "
        f"'quantity', {_decimal('pending_quantity')}, 'limit_price', {_decimal('pending_limit_price')}) END",
    ),
    ("anomalies", "anomalies"),
    ("trading_day", "to_char(trading_day, 'YYYY-MM-DD')"),
    ("created_at", _utc("created_at")),
    ("updated_at", _utc("updated_at")),
    ("version", "version"),
)
_SELECTED = ", ".join(f'{expression} AS "{key}"' for key, expression in ORDER_JSON_COLUMNS)


def page_sql(where: str, *, counted: bool = False) -> str:
    """The page's rows as a JSON array (text) and the count of every row `where` selects, in one
    statement (one snapshot). Parameters: where's, where's again, LIMIT, OFFSET.

    `counted`: `where` names accounts only (account_code); the count is then the sum of the
    accounts' counts the database keeps (orders_account_order_count, migration 0010), whatever the
    accounts' size, rather than a visit to each of their orders."""
    count = (
        f"SELECT coalesce(sum(orders), 0)::bigint FROM orders_account_order_count WHERE {where}"
        if counted
        else f"SELECT count(*) FROM orders_order WHERE {where}"
    )
    return (
        "SELECT coalesce('[' || string_agg(row_to_json(page)::text, ',' ORDER BY page.id DESC) || ']', '[]'), "
        f"({count}) "
        f"FROM (SELECT {_SELECTED} FROM orders_order WHERE {where} ORDER BY id DESC LIMIT %s OFFSET %s) AS page"
    )


# -- the filters, from the FilterSet's declaration --------------------------------------------------


class NotServed(Exception):
    """This request is DRF's to answer (a refused value, a filter this path does not translate)."""


_OPERATORS = {"exact": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass(frozen=True)
class FilterPlan:
    """One FilterSet's filters as SQL conditions, each value cleaned by the filter's form field."""

    filterset_class: type[django_filters.FilterSet]

    def __post_init__(self) -> None:
        filterset = self.filterset_class(data=QueryDict(), queryset=self.filterset_class._meta.model.objects.none())
        object.__setattr__(self, "_form_fields", filterset.form.fields)
        object.__setattr__(self, "_model", self.filterset_class._meta.model)

    def conditions(self, params: QueryDict) -> tuple[list[str], list[Any], set[str]]:
        """SQL conditions (ANDed) and their parameters for the filters `params` names: what the
        FilterSet's queryset would select, and the columns they test. NotServed when a value is
        refused or a filter has no plain translation."""
        sql: list[str] = []
        values: list[Any] = []
        columns: set[str] = set()
        for name, filter_ in self.filterset_class.base_filters.items():
            if name not in params:
                continue
            field = self._form_fields[name]  # type: ignore[attr-defined]
            try:
                value = field.clean(field.widget.value_from_datadict(params, {}, name))
            except ValidationError:
                raise NotServed(name) from None
            if value in EMPTY_VALUES:
                continue
            sql_condition, sql_values = self._condition(filter_, value)
            if sql_condition:
                sql.append(sql_condition)
                values.extend(sql_values)
                columns.add(self._model._meta.get_field(filter_.field_name).column)  # type: ignore[attr-defined]
        return sql, values, columns

    def _condition(self, filter_: django_filters.Filter, value: Any) -> tuple[str, list[Any]]:
        if filter_.method is not None or filter_.exclude:
            raise NotServed(filter_.field_name)
        model_field = self._model._meta.get_field(filter_.field_name)  # type: ignore[attr-defined]
        column = model_field.column
        if isinstance(filter_, django_filters.MultipleChoiceFilter):
            if filter_.conjoined or filter_.lookup_expr != "exact":
                raise NotServed(filter_.field_name)
            if filter_.is_noop(None, value):  # every choice: no condition (django-filter's rule)
                return "", []
            return f"{column} = ANY(%s)", [[model_field.get_prep_value(v) for v in value]]
        if filter_.lookup_expr == "isnull":
            return f"{column} IS {'' if value else 'NOT '}NULL", []
        operator = _OPERATORS.get(filter_.lookup_expr)
        if operator is None:
            raise NotServed(filter_.field_name)
        return f"{column} {operator} %s", [model_field.get_prep_value(value)]


# -- running the statement --------------------------------------------------------------------------

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncConnectionPool] = weakref.WeakKeyDictionary()
POOL_SIZE = 4  # per worker: more statements at once than cores gains nothing


def _conninfo() -> dict[str, Any]:
    database = settings.DATABASES["default"]
    options = {k: v for k, v in database.get("OPTIONS", {}).items()
               if k not in ("pool", "server_side_binding", "isolation_level", "assume_role")}  # fmt: skip
    given = {"dbname": database["NAME"], "user": database.get("USER"), "password": database.get("PASSWORD"),
             "host": database.get("HOST"), "port": database.get("PORT")}  # fmt: skip
    return {**{k: v for k, v in given.items() if v}, **options, "autocommit": True}


async def pool() -> AsyncConnectionPool:
    """The running loop's pool (a worker has one loop; a test client a loop per request)."""
    loop = asyncio.get_running_loop()
    found = _pools.get(loop)
    if found is None:
        found = _pools[loop] = AsyncConnectionPool(
            kwargs=_conninfo(), min_size=1, max_size=POOL_SIZE, open=False, name="orders-page"
        )
        await found.open()
    return found


async def close_pool() -> None:
    found = _pools.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.close()


_on_loop = False


def connect_on_loop() -> None:
    """Run pages' statements on the event loop's own connections (the web server's long-lived loop)."""
    global _on_loop
    _on_loop = True


def _fetch_through_django(sql: str, params: list[Any]) -> tuple[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


async def fetch(sql: str, params: list[Any]) -> tuple[str, int]:
    """(rows as JSON text, count) of page_sql."""
    if not _on_loop:
        return await sync_to_async(_fetch_through_django)(sql, params)
    found = await pool()
    try:
        return await _fetch_on(found, sql, params)
    except psycopg.OperationalError:
        # A connection the server closed (a restart, an idle timeout): the pool drops it; once
        # more on another. A read, so safe to repeat.
        return await _fetch_on(found, sql, params)


async def _fetch_on(found: AsyncConnectionPool, sql: str, params: list[Any]) -> tuple[str, int]:
    async with found.connection() as conn:
        cursor = await conn.execute(sql, params)
        return await cursor.fetchone()  # type: ignore[return-value]


# -- the page ---------------------------------------------------------------------------------------


class _Query:
    """What LimitOffsetPagination reads of DRF's request: the query and the absolute URI."""

    def __init__(self, request: HttpRequest) -> None:
        self.query_params = request.GET
        self.build_absolute_uri = request.build_absolute_uri


async def order_page(
    request: HttpRequest,
    plan: FilterPlan,
    visible: Iterable[str] | None,
    pagination: BoundedLimitOffsetPagination,
) -> HttpResponse:
    """The JSON of a LimitOffsetPagination page of the orders `plan` selects from the request's
    query, in the accounts `visible` (None: every account), as OrderViewSet.list answers it."""
    query = _Query(request)
    conditions, values, columns = plan.conditions(request.GET)
    if visible is not None:
        accounts = list(visible)
        # One account as an equality: the planner reads (account, id) backwards for it, where for
        # = ANY(...) it walks the whole table newest first until 50 of the account's turn up.
        conditions.insert(0, "account_code = %s" if len(accounts) == 1 else "account_code = ANY(%s)")
        values.insert(0, accounts[0] if len(accounts) == 1 else accounts)
    where = " AND ".join(conditions) or "TRUE"
    limit, offset = pagination.get_limit(query), pagination.get_offset(query)  # type: ignore[arg-type]
    sql = page_sql(where, counted=columns <= {"account_code"})
    rows, count = await fetch(sql, [*values, *values, limit, offset])
    next_link, previous_link = _links(request, query, pagination, limit, offset, count)
    response = HttpResponse(page_json(count, next_link, previous_link, rows), content_type="application/json")
    response["Vary"] = "Accept"  # as DRF's response, and the headers its view adds
    response["Allow"] = "GET, POST, HEAD, OPTIONS"
    return response


_known_links: dict[tuple, tuple[str | None, str | None]] = {}


def _links(
    request: HttpRequest, query: _Query, pagination: BoundedLimitOffsetPagination, limit: int, offset: int, count: int
) -> tuple[str | None, str | None]:
    """LimitOffsetPagination's `next` and `previous`, remembered per URL: DRF parses and encodes
    the query twice for each (a fifth of a page's cost), and a client asks for the same page again
    and again. The count matters only as whether there is a next page."""
    more = offset + limit < count
    key = (request.scheme, request.get_host(), request.path, request.META.get("QUERY_STRING", ""), limit, offset, more)
    links = _known_links.get(key)
    if links is None:
        pagination.request, pagination.limit, pagination.offset, pagination.count = query, limit, offset, count
        links = (pagination.get_next_link(), pagination.get_previous_link())
        if len(_known_links) >= 10_000:
            _known_links.clear()
        _known_links[key] = links
    return links


def page_json(count: int, next_link: str | None, previous_link: str | None, results: str) -> bytes:
    """LimitOffsetPagination's body, keys in its order, around `results` (JSON text)."""
    return (
        f'{{"count":{count},"next":{json.dumps(next_link)},"previous":{json.dumps(previous_link)},"results":{results}}}'
    ).encode()
