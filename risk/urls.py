from django.urls import path

from risk import views

urlpatterns = [
    path("risk/limits/", views.LimitsListView.as_view(), name="risk-limits"),
    path("risk/limits/<str:account>/", views.LimitsDetailView.as_view(), name="risk-limits-detail"),
    path("risk/usage/", views.UsageView.as_view(), name="risk-usage"),
    path("kill-switch/", views.KillSwitchListView.as_view(), name="kill-switch"),
    path("kill-switch/engage/", views.KillSwitchEngageView.as_view(), name="kill-switch-engage"),
    path("kill-switch/release/", views.KillSwitchReleaseView.as_view(), name="kill-switch-release"),
]
