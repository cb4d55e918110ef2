"""The calendars as settings configure them (orders/domain/calendar.py is the pure part).

- The OMS's trading day: OMS_TRADING_DAY_TZ and OMS_TRADING_DAY_END. ClOrdIDs are unique per
  account per this day; orders are filed under it; the end-of-day report covers it.
- Each venue's: OMS_VENUE_CALENDAR[name], else OMS_VENUE_CALENDAR["default"]; a venue's
  `close_time` / `time_zone` in admin override the close and zone of the setting.

Settings are read once per value: a calendar keeps the day it last answered, so the engine's
question "which day is this event's?" stays two comparisons."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from orders.domain.calendar import CalendarError, TradingCalendar, parse_calendar

DEFAULT = "default"


def oms_day() -> TradingCalendar:
    """The OMS's trading day: it ends at OMS_TRADING_DAY_END in OMS_TRADING_DAY_TZ, every day."""
    return _oms_day(settings.OMS_TRADING_DAY_TZ, settings.OMS_TRADING_DAY_END)


@lru_cache(maxsize=8)
def _oms_day(zone: str, end: str) -> TradingCalendar:
    return parse_calendar({"zone": zone, "close": end}, what="OMS_TRADING_DAY_TZ / OMS_TRADING_DAY_END")


def venue_calendar(name: str, *, close: str | None = None, zone: str | None = None) -> TradingCalendar:
    """Venue `name`'s calendar from OMS_VENUE_CALENDAR; `close` / `zone` (a venue's admin fields,
    when set) override the setting's. Raises CalendarError for a setting that makes no sense."""
    configured = settings.OMS_VENUE_CALENDAR
    spec = dict(configured.get(name) or configured.get(DEFAULT) or {})
    if close:
        spec["close"] = close
    if zone:
        spec["zone"] = zone
    return _venue_calendar(tuple(sorted((k, str(v)) for k, v in spec.items())), name)


@lru_cache(maxsize=64)
def _venue_calendar(spec: tuple[tuple[str, str], ...], name: str) -> TradingCalendar:
    return parse_calendar(dict(spec), what=f"OMS_VENUE_CALENDAR[{name!r}]")


def venue_calendar_of(venue) -> TradingCalendar:  # venues.models.Venue; not imported: arrows point inward
    """A configured venue's calendar, its admin overrides applied."""
    close = venue.close_time.isoformat() if getattr(venue, "close_time", None) else None
    return venue_calendar(venue.name, close=close, zone=getattr(venue, "time_zone", "") or None)


def check() -> list[str]:
    """What is wrong with the calendar settings (empty: nothing), for `manage.py check` and start."""
    problems = []
    try:
        oms_day()
    except CalendarError as exc:
        problems.append(str(exc))
    for name in settings.OMS_VENUE_CALENDAR:
        try:
            venue_calendar(name)
        except CalendarError as exc:
            problems.append(str(exc))
    return problems
