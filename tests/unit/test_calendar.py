from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from orders.domain.calendar import trading_day


@given(st.integers(min_value=-(10**18), max_value=4 * 10**18))
def test_utc_fast_path_agrees_with_the_calendar(at_ns):
    expected = datetime.fromtimestamp(at_ns / 1_000_000_000, tz=UTC).date()
    # float seconds can round across midnight in the last microsecond; the integer path is exact
    if abs(at_ns % 86_400_000_000_000) > 1_000 and abs(at_ns % 86_400_000_000_000 - 86_400_000_000_000) > 1_000:
        assert trading_day(at_ns) == expected


def test_the_day_rolls_at_midnight_in_the_configured_zone():
    # 2026-11-25 23:30 UTC is already the 26th in Tokyo and still the 25th in New York
    at_ns = int(datetime(2026, 11, 25, 23, 30, tzinfo=UTC).timestamp()) * 1_000_000_000
    assert str(trading_day(at_ns)) == "2026-11-25"
    assert str(trading_day(at_ns, "Asia/Tokyo")) == "2026-11-26"
    assert str(trading_day(at_ns, "America/New_York")) == "2026-11-25"
