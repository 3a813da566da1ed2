"""URLs of the test project."""

from __future__ import annotations

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tests.frameworks.django_site import views

urlpatterns = [
    path("", csrf_exempt(views.home)),
    path("close", views.close),
    path("leak", views.leak),
    path("empty", views.empty),
    path("facts", views.facts),
]
