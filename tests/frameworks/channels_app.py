"""Django Channels: connmw wraps the ``ProtocolTypeRouter``, outside every Channels middleware.

Django's ASGI handler is built first (it sets Django up), then the routing that imports
consumers, as Channels' documentation orders them.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.frameworks.django_site.settings")

from django.core.asgi import get_asgi_application

django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 (after Django's setup)
from django.urls import path  # noqa: E402

from connmw.asgi import ConnectionMiddleware  # noqa: E402
from tests.frameworks.django_site.consumers import Echo  # noqa: E402

bare = ProtocolTypeRouter({"http": django_asgi, "websocket": URLRouter([path("ws", Echo.as_asgi())])})
app = ConnectionMiddleware(bare)
