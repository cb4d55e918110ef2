"""ASGI entry point: HTTP (Django) and websockets (Channels: the blotter's feed).

Websockets need a browser session (AuthMiddlewareStack) and an Origin among ALLOWED_HOSTS
(AllowedHostsOriginValidator), so another site's page cannot open the blotter as the user."""

import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_project.settings")
django_asgi_app = get_asgi_application()

from blotter.routing import websocket_urlpatterns  # noqa: E402  (after Django is set up)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
