"""DRF building blocks named in settings.REST_FRAMEWORK. Kept apart from views, which DRF's
settings import would otherwise import in a circle (nothing here may import rest_framework.views)."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, but a body nested too deep to parse is a 400, not a crash."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """?limit= and ?offset= within sane bounds: a huge number never reaches SQL."""

    max_limit = 1000
    MAX_OFFSET = 10**12

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), self.MAX_OFFSET)


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, the key's user read from this worker's memory (orders.edge):
    a token is trusted for edge.TOKEN_SECONDS at most, so a revoked one stops working within that.
    The async order entry resolves the key before DRF asks (AsyncAPIView), off the event loop."""

    def authenticate_credentials(self, key: str):
        from orders import edge

        entry = edge.cache.token(key)
        return self._checked(entry)

    @staticmethod
    def _checked(entry):
        if entry.token is None:
            raise AuthenticationFailed("Invalid token.")
        if not entry.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return entry.user, entry.token

    def authenticate(self, request: Request):
        resolved = getattr(request._request, "oms_token", None)
        if resolved is not None:  # the async view looked the key up already
            return self._checked(resolved)
        return super().authenticate(request)
