from django.urls import path

from reconciliation import views

urlpatterns = [
    path("reconciliation/breaks/", views.BreakListView.as_view(), name="reconciliation-breaks"),
    path("reconciliation/breaks/<int:break_id>/", views.BreakDetailView.as_view(), name="reconciliation-break"),
    path(
        "reconciliation/breaks/<int:break_id>/resolve/",
        views.BreakResolveView.as_view(),
        name="reconciliation-break-resolve",
    ),
]
