from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders and the event log"

    def ready(self) -> None:
        from orders import projections  # noqa: F401  (connects the projection receivers)
