from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from oms_project.api import TokenView, health, ping
from orders.views import orders_collection

api_v1 = [
    # First: the busiest route (order entry, the order page); found after the routers' dozens of
    # patterns it cost ~0.15 ms a request to resolve.
    path("orders/", orders_collection, name="order-collection"),
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("health/", health, name="health"),
    path("ping/", ping, name="ping"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("risk.urls")),
    path("", include("reconciliation.urls")),
    path("", include("orders.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("blotter.urls")),
]

handler404 = "oms_project.api.not_found"
handler500 = "oms_project.api.server_error"
