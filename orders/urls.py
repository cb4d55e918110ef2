from django.urls import path
from rest_framework.routers import DefaultRouter

from orders import views

router = DefaultRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("fills", views.FillViewSet, basename="fill")
router.register("positions", views.PositionViewSet, basename="position")
router.register("events", views.EventViewSet, basename="event")
router.register("instruments", views.InstrumentViewSet, basename="instrument")
router.register("accounts", views.AccountViewSet, basename="account")

# POST /orders/ runs on the event loop (views.orders_collection); the router's route stays after it,
# so the OpenAPI schema still describes the endpoint from OrderViewSet (it skips non-DRF views).
urlpatterns = [path("orders/", views.orders_collection, name="order-collection"), *router.urls]
