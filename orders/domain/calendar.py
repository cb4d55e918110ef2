"""The trading day. Pure: every answer is a function of a calendar and a UTC nanosecond instant.

A `TradingCalendar` says when a day closes: a local time in a time zone, on some weekdays. The
day a moment belongs to is the day of the first close strictly after it: an order at 16:30 New
York, after a 16:00 close, is already the next trading day's (a Friday evening's, with weekends
off, is Monday's). A close at 00:00 means the end of the day, midnight: the day is then the
local date.

Two kinds of calendar use it:
- each venue's (docs/operations.md, OMS_VENUE_CALENDAR): when its DAY orders expire;
- the OMS's own day (OMS_TRADING_DAY_TZ and OMS_TRADING_DAY_END): ClOrdID (11) is unique per
  account per this day (FIX), orders are filed under it, and the end-of-day report covers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
MIDNIGHT = time(0)
EVERY_DAY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))  # Monday to Friday (date.weekday())
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CalendarError(ValueError):
    """A calendar setting that does not make sense; the message says which and why."""


@lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class TradingCalendar:
    zone: str = "UTC"  # IANA time zone the close is given in
    close: time = MIDNIGHT  # local time the day ends; 00:00 is midnight, the end of the date
    days: frozenset[int] = EVERY_DAY  # weekdays (0 = Monday) that are trading days
    # The last day asked for, as (start_ns, end_ns, day): the engine asks for every event,
    # nearly always about the same day, so the answer is two comparisons.
    _last: list[tuple[int, int, date]] = field(default_factory=list, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        try:
            _zone(self.zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"unknown time zone {self.zone!r}") from exc
        if not self.days or not self.days <= EVERY_DAY:
            raise CalendarError(f"trading days must be some of 0..6 (Monday..Sunday), not {sorted(self.days)}")

    @property
    def _plain_utc(self) -> bool:
        return self.zone == "UTC" and self.close == MIDNIGHT and self.days == EVERY_DAY

    def trading_day(self, at_ns: int) -> date:
        """The trading day `at_ns` belongs to: the day of the first close after it."""
        if self._plain_utc:  # the common case, on the engine's hot path: plain arithmetic
            return date.fromordinal(EPOCH_ORDINAL + at_ns // NS_PER_DAY)
        if self._last:
            start, end, day = self._last[0]
            if start <= at_ns < end:
                return day
        local = datetime.fromtimestamp(at_ns / NS_PER_SECOND, tz=UTC).astimezone(_zone(self.zone))
        day = local.date()
        if self.close != MIDNIGHT and local.time() >= self.close:
            day += timedelta(days=1)
        day = self._on_or_after(day)
        end = self.close_at(day)
        if at_ns >= end:  # float rounding a hair past the close
            day = self._on_or_after(day + timedelta(days=1))
            end = self.close_at(day)
        start = self.close_at(self.previous_day(day))
        self._last[:] = [(start, end, day)]
        return day

    def close_at(self, day: date) -> int:
        """The instant (UTC ns) trading day `day` closes."""
        if self.close == MIDNIGHT:
            moment = datetime.combine(day + timedelta(days=1), MIDNIGHT, tzinfo=_zone(self.zone))
        else:
            moment = datetime.combine(day, self.close, tzinfo=_zone(self.zone))
        return _ns(moment)

    def next_close(self, at_ns: int) -> tuple[date, int]:
        """The first close strictly after `at_ns`: (its trading day, its instant)."""
        day = self.trading_day(at_ns)
        return day, self.close_at(day)

    def last_close(self, at_ns: int) -> tuple[date, int]:
        """The latest close at or before `at_ns`: (its trading day, its instant)."""
        day = self.previous_day(self.trading_day(at_ns))
        return day, self.close_at(day)

    def previous_day(self, day: date) -> date:
        day -= timedelta(days=1)
        while day.weekday() not in self.days:
            day -= timedelta(days=1)
        return day

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() in self.days

    def describe(self) -> str:
        days = "every day" if self.days == EVERY_DAY else ",".join(DAY_NAMES[d] for d in sorted(self.days))
        close = "midnight" if self.close == MIDNIGHT else self.close.isoformat()
        return f"closes {close} {self.zone}, {days}"

    def _on_or_after(self, day: date) -> date:
        while day.weekday() not in self.days:
            day += timedelta(days=1)
        return day


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS_PER_SECOND + moment.microsecond * 1_000


def parse_calendar(spec: dict[str, object], *, what: str = "calendar") -> TradingCalendar:
    """A calendar from settings: {"close": "HH:MM[:SS]", "zone": "America/New_York", "days":
    "mon-fri" | "every day" | "mon,tue,..."} (each optional: midnight, UTC, every day)."""
    unknown = set(spec) - {"close", "zone", "days"}
    if unknown:
        raise CalendarError(f"{what}: unknown key(s) {', '.join(sorted(unknown))}; use close, zone, days")
    try:
        close = time.fromisoformat(str(spec.get("close", "00:00")))
    except ValueError as exc:
        raise CalendarError(f"{what}: close {spec.get('close')!r} is not a time of day HH:MM[:SS]") from exc
    try:
        return TradingCalendar(str(spec.get("zone", "UTC")), close, parse_days(str(spec.get("days", "every day"))))
    except CalendarError as exc:
        raise CalendarError(f"{what}: {exc}") from exc


def parse_days(text: str) -> frozenset[int]:
    """ "every day", "mon-fri", or a comma-separated list of day names ("mon,wed,fri")."""
    text = text.strip().lower()
    if text in ("every day", "all", "mon-sun"):
        return EVERY_DAY
    if text in ("weekdays", "mon-fri"):
        return WEEKDAYS
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in DAY_NAMES]
    if unknown or not names:
        raise CalendarError(f"trading days {text!r}: use 'every day', 'mon-fri' or names like 'mon,tue' ")
    return frozenset(DAY_NAMES.index(name) for name in names)


Zone = str | TradingCalendar  # a bare zone name: the day rolls at midnight there, every day


@lru_cache(maxsize=32)
def _midnight(zone: str) -> TradingCalendar:
    return TradingCalendar(zone)


def trading_day(at_ns: int, zone: Zone = "UTC") -> date:
    """The trading day a UTC nanosecond timestamp falls on: by a calendar, or, given a zone name,
    where the day rolls at midnight in that zone."""
    if zone == "UTC":  # the common case, on the engine's hot path: plain arithmetic
        return date.fromordinal(EPOCH_ORDINAL + at_ns // NS_PER_DAY)
    calendar = _midnight(zone) if isinstance(zone, str) else zone
    return calendar.trading_day(at_ns)
