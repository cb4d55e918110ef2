"""ASGI entry point: HTTP (Django) and websockets (Channels: the blotter's feed).

Websockets need a browser session (AuthMiddlewareStack) and an Origin among ALLOWED_HOSTS
(AllowedHostsOriginValidator), so another site's page cannot open the blotter as the user."""

import os

import django
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_project.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application

from oms_project.asyncweb import ASGIHandler  # noqa: E402  (after Django is set up)

django_asgi_app = ASGIHandler()  # Django's, without a thread for a request that needs none

from blotter.routing import websocket_urlpatterns  # noqa: E402  (after Django is set up)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
