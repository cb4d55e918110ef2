from django.apps import AppConfig


class TradingDayConfig(AppConfig):
    name = "tradingday"
    verbose_name = "Trading day"
    default_auto_field = "django.db.models.BigAutoField"
