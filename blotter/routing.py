from django.urls import path

from blotter.consumers import BlotterConsumer

websocket_urlpatterns = [path("ws/blotter/", BlotterConsumer.as_asgi())]
