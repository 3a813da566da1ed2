"""Django's ``asgi.py``: Django's MIDDLEWARE is its own kind, so connmw wraps the application."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.frameworks.django_site.settings")

from django.core.asgi import get_asgi_application

from connmw.asgi import ConnectionMiddleware

bare = get_asgi_application()
app = ConnectionMiddleware(bare)
