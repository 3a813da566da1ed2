"""No database, no apps; Django's own CommonMiddleware, as most projects have."""

from __future__ import annotations

SECRET_KEY = "tests-only-not-a-secret"  # noqa: S105 (a test project)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.frameworks.django_site.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
