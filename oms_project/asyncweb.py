"""Requests on the event loop from end to end: a DRF view with coroutine handlers (AsyncAPIView) and
async-capable middleware. Under ASGI, Django runs a sync-only middleware, and everything after it,
in a thread; and a sync view in a thread of its own."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from asgiref.sync import SyncToAsync, iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as message
from django.contrib.messages.storage import default_storage
from django.contrib.sessions import middleware as sessions
from django.core import signals
from django.core.exceptions import ImproperlyConfigured, RequestAborted
from django.core.handlers import asgi
from django.http import HttpRequest, HttpResponse
from django.middleware import clickjacking, common, csrf, security
from django.urls import set_script_prefix
from django.utils.functional import SimpleLazyObject, empty
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


# Django's own middleware, on the loop. In an async chain Django runs every MiddlewareMixin hook
# (process_request, process_response, process_view) in a thread, two or three thread hops per
# middleware and request: most of a small request's cost. These hooks do no I/O, except where
# noted: those run in a thread when they would touch the session (the database).


class OnLoop:
    """A MiddlewareMixin whose hooks run on the event loop."""

    async_mode: bool
    get_response: Any

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)  # type: ignore[call-arg]
        if self.async_mode and hasattr(self, "process_view"):
            # An instance attribute Django's handler finds instead of the sync method it would wrap.
            sync_view = self.process_view

            async def process_view(*args: Any) -> Any:
                return sync_view(*args)

            self.process_view = process_view

    def response_needs_thread(self, request: HttpRequest) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request):
                response = await sync_to_async(self.process_response)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(OnLoop, security.SecurityMiddleware):
    pass


class SessionMiddleware(OnLoop, sessions.SessionMiddleware):
    def response_needs_thread(self, request: HttpRequest) -> bool:
        return request.session.accessed  # it may be saved


class CommonMiddleware(OnLoop, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(OnLoop, csrf.CsrfViewMiddleware):
    def __init__(self, get_response: Any) -> None:
        if django_settings.CSRF_USE_SESSIONS:
            raise ImproperlyConfigured("CSRF_USE_SESSIONS would read the session on the event loop")
        super().__init__(get_response)


class AuthenticationMiddleware(OnLoop, auth.AuthenticationMiddleware):
    pass  # request.user is lazy; async code awaits request.auser()


class MessageMiddleware(OnLoop, message.MessageMiddleware):
    """Its storage made when first used (admin pages), not for every request: making it makes a
    cookie signer, a third of a small request's cost."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not self._used(request):
            return response
        return super().process_response(request, response)

    def response_needs_thread(self, request: HttpRequest) -> bool:
        if not self._used(request):
            return False
        storage = request._messages  # type: ignore[attr-defined]
        return storage.used or storage.added_new  # stored: maybe in the session

    @staticmethod
    def _used(request: HttpRequest) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and not (isinstance(storage, SimpleLazyObject) and storage._wrapped is empty)


class XFrameOptionsMiddleware(OnLoop, clickjacking.XFrameOptionsMiddleware):
    pass


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGI handler (5.2's `handle`, two lines changed), without a thread for a request
    that needs none: Django sends request_started and closes the response (which sends
    request_finished) each in the request's thread, so that the receivers closing database
    connections run where the connections live. A request that ran no sync code (an async view on
    cached data: order entry, ping) has none, and they run on the loop; one that did goes through
    its thread as in Django."""

    async def handle(self, scope: dict, receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(asgi.get_script_prefix(scope))
        if _no_connections(signals.request_started, self.__class__):
            signals.request_started.send(sender=self.__class__, scope=scope)
        else:
            await signals.request_started.asend(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return

        async def process_request(request: HttpRequest, send: Any) -> HttpResponse:
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass
            return response

        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if _no_connections(signals.request_finished, self.__class__):
                response.close()
            else:
                await sync_to_async(response.close)()
        body_file.close()


def _no_connections(signal: Any, sender: type) -> bool:
    """Nothing for `signal`'s receivers to close: no sync code ran for this request (a database
    connection or cache client is opened only in sync code, in the request's thread, which asgiref
    creates on its first use), and no async receiver (`send` would run it through a new loop)."""
    context = SyncToAsync.thread_sensitive_context.get(None)
    if context is None or context in SyncToAsync.context_to_thread_executor:
        return False
    _, async_receivers = signal._live_receivers(sender)
    return not async_receivers
