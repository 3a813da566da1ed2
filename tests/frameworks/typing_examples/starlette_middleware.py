"""Starlette and FastAPI: the factory protocol of ``Middleware`` and ``add_middleware`` is
positional-only (``app, /``); connmw's options type-check as keywords after it."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware

from connmw.asgi import ConnectionMiddleware

app = Starlette(middleware=[Middleware(ConnectionMiddleware, ws_allowed_origins=["https://app.example"])])
app.add_middleware(ConnectionMiddleware, strict=True)

api = FastAPI()
api.add_middleware(ConnectionMiddleware)
