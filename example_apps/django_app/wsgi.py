"""WSGI entry point: ``gunicorn -k gthread --threads 8 example_apps.django_app.wsgi:application``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from connmw.wsgi import ConnectionMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_apps.django_app.settings")

application = ConnectionMiddleware(get_wsgi_application())
