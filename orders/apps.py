from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders and the event log"

    def ready(self) -> None:
        from orders import edge, projections  # noqa: F401  (connects the projection receivers)

        edge.connect_signals()  # the web workers' caches of tokens and reference data follow changes
