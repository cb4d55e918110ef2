"""Browser pages: the blotter at `/`, Django's login and logout around it."""

from django.contrib.auth import views as auth_views
from django.urls import path

from blotter import views

urlpatterns = [
    path("", views.blotter, name="blotter"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),  # POST only (Django 5)
]
