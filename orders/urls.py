from rest_framework.routers import DefaultRouter

from orders import views

router = DefaultRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("fills", views.FillViewSet, basename="fill")
router.register("positions", views.PositionViewSet, basename="position")
router.register("events", views.EventViewSet, basename="event")
router.register("instruments", views.InstrumentViewSet, basename="instrument")
router.register("accounts", views.AccountViewSet, basename="account")

# /orders/ itself (POST: order entry, GET: the page) runs on the event loop (views.orders_collection),
# routed first in oms_project/urls.py; the router's route stays, so the OpenAPI schema still
# describes the endpoint from OrderViewSet (it skips non-DRF views).
urlpatterns = router.urls
