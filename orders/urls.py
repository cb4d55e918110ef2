from rest_framework.routers import DefaultRouter

from orders import views

router = DefaultRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("fills", views.FillViewSet, basename="fill")
router.register("positions", views.PositionViewSet, basename="position")
router.register("events", views.EventViewSet, basename="event")
router.register("instruments", views.InstrumentViewSet, basename="instrument")
router.register("accounts", views.AccountViewSet, basename="account")

urlpatterns = router.urls
