"""The WebSocket echo as a Channels consumer (Channels' own WebSocket API)."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import WebsocketConsumer

from tests.frameworks.routes import echo


class Echo(WebsocketConsumer):  # type: ignore[misc]
    def connect(self) -> None:
        self.accept()

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **_: Any) -> None:
        self.send(text_data=echo(text_data or ""))
        self.close()
