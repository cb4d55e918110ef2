"""DRF building blocks named in settings.REST_FRAMEWORK. Kept apart from views, which DRF's
settings import would otherwise import in a circle."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
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
