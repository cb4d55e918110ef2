from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    verbose_name = "Reconciliation with the venues"

    def ready(self) -> None:
        from reconciliation import projections  # noqa: F401  (connects the projection receiver)
