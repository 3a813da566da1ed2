"""Django's ``wsgi.py``: Django's MIDDLEWARE is its own kind, so connmw wraps the application."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.frameworks.django_site.settings")

from django.core.wsgi import get_wsgi_application

from connmw.wsgi import ConnectionMiddleware

bare = get_wsgi_application()
app = ConnectionMiddleware(bare)
