"""The example's routes."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("stream/", views.stream),
    path("hoppy/", views.hoppy),
    path("stats/", views.stats),
]
