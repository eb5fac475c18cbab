"""Real receivers for the alert tests: an SMTP server (aiosmtpd) and a webhook (LocalServer).

Both listen on 127.0.0.1 only. The SMTP server can be stopped and started
again on the same port, which is how the outage test takes the channel down.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from pipeline.localserver import LocalServer, Response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, inbox: list[EmailMessage]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.inbox.append(msg)  # type: ignore[arg-type]
        return "250 OK"


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox: list[EmailMessage] = []
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?mode=insecure"
            "&from=newswatch@example.org&to=desk@example.org"
        )

    def start(self) -> SmtpSink:
        self._controller = Controller(_Handler(self.inbox), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.inbox]

    def delivery_ids(self) -> list[str]:
        return [str(m["X-Newswatch-Delivery-Id"]) for m in self.inbox]


class WebhookSink:
    """A LocalServer route that answers 200 to POSTs; the server records each body."""

    def __init__(self) -> None:
        self.server = LocalServer("127.0.0.1")
        self.server.route("/hook", Response(200, b"{}", {"Content-Type": "application/json"}))

    @property
    def url(self) -> str:
        return self.server.url.replace("http://", "json://") + "/hook"

    def start(self) -> WebhookSink:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def payloads(self) -> list[dict[str, Any]]:
        return [
            json.loads(r.body)
            for r in list(self.server.requests)
            if r.method == "POST" and r.path.startswith("/hook")
        ]
