from django.apps import AppConfig
from django.core import checks


class TradingDayConfig(AppConfig):
    name = "tradingday"
    verbose_name = "Trading day"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(calendar_settings, "tradingday")


def calendar_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The calendar settings make sense (management commands check this before they start)."""
    from orders import calendars

    return [checks.Error(problem, id="tradingday.E001") for problem in calendars.check()]
