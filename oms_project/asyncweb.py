"""Requests on the event loop from end to end: a DRF view with coroutine handlers (AsyncAPIView) and
async-capable middleware. Under ASGI, Django runs a sync-only middleware, and everything after it,
in a thread; and a sync view in a thread of its own."""

from __future__ import annotations

import inspect
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from rest_framework.authentication import get_authorization_header
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from whitenoise.middleware import WhiteNoiseMiddleware


class AsyncAPIView(APIView):
    """DRF's APIView for coroutine handlers (`async def post`), run on the event loop from start to
    end: the same parsing, authentication, permissions, throttles, exception handler and renderers,
    and no thread held while a handler awaits (the engine's answer).

    Whatever DRF would read from the database is resolved first, off the loop: the token's user
    (orders.edge, cached) or the session's user. A handler reads the database only through
    sync_to_async. A JSON response is rendered here and returned as a plain HttpResponse, which
    Django does not hand to a thread to render (a browsable-API one is rendered in a thread)."""

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            await self._resolve_user(request)
            self.initial(drf_request, *args, **kwargs)
            method = drf_request.method.lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            result = (handler or self.http_method_not_allowed)(drf_request, *args, **kwargs)
            response = await result if inspect.isawaitable(result) else result
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        return await _rendered(self.response)

    @staticmethod
    async def _resolve_user(request: HttpRequest) -> None:
        from orders import edge

        if getattr(request, "_force_auth_user", None) is not None:
            return  # tests' force_authenticate
        words = get_authorization_header(request).split()
        if len(words) == 2 and words[0].lower() == b"token":
            try:
                key = words[1].decode()
            except UnicodeError:
                return  # DRF says so (401)
            request.oms_token = await edge.cache.atoken(key)  # type: ignore[attr-defined]
        elif hasattr(request, "auser"):
            request.user = await request.auser()  # SessionAuthentication reads it; no lazy read on the loop


async def _rendered(response: HttpResponse) -> HttpResponse:
    if not isinstance(response, Response):
        return response
    if not isinstance(getattr(response, "accepted_renderer", None), JSONRenderer):
        await sync_to_async(response.render)()
        return response
    return plain(response)


def plain(response: Response) -> HttpResponse:
    """A DRF response rendered, as a plain HttpResponse: Django renders a response that still
    has `render` in a thread of its own, even once it is rendered."""
    response.render()
    rendered = HttpResponse(response.content, status=response.status_code)
    for header, value in response.items():
        rendered[header] = value
    rendered.data = response.data  # type: ignore[attr-defined]  # as DRF's test client shows it
    return rendered


class AsyncCapable:
    """A middleware's __call__ on the event loop when the chain is async, so a request does not go
    through a thread for it: Django hands a sync-only middleware (and everything after it) to a
    thread. `acall` is the async version."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(get_response, *args, **kwargs)  # type: ignore[call-arg]
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.acall(request)
        return super().__call__(request)  # type: ignore[misc]

    async def acall(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError


class StaticFilesMiddleware(AsyncCapable, WhiteNoiseMiddleware):
    """WhiteNoise, async-capable: a request for a static file is served in a thread (file I/O),
    every other one passes on the loop."""

    async def acall(self, request: HttpRequest) -> HttpResponse:
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
