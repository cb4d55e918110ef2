from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = "Pre-trade risk"

    def ready(self) -> None:
        from risk import projections  # noqa: F401  (connects the projection receivers)
