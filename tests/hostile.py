"""A hostile publisher on a loopback address, for the attack tests.

:class:`pipeline.localserver.LocalServer` answers like a well-behaved (if
slow or huge) site. The attacks here need control over every byte on the
wire: headers dripped one byte at a time, a body that trickles forever, any
``Content-Encoding`` header over any bytes. So this is a small raw-socket
server: each route is a :class:`Hostile` answer written byte for byte.
It binds only to 127.0.0.0/8.
"""

from __future__ import annotations

import gzip
import html
import ipaddress
import socket
import socketserver
import threading
import zlib
from dataclasses import dataclass, field
from functools import cache
from types import TracebackType


@dataclass
class Hostile:
    """One answer. ``drip_head`` / ``drip_body``: seconds between single bytes."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    drip_head: float = 0.0
    drip_body: float = 0.0


def article_html(title: str, paragraphs: int = 6) -> bytes:
    """A page with enough text to be extracted as an article."""
    text = "".join(
        f"<p>Paragraph {i} of the report: forces moved along the coastal road near Sirte "
        f"while officials in Tripoli met to discuss the ceasefire and the oil fields.</p>"
        for i in range(paragraphs)
    )
    shown = html.escape(title)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{shown}</title></head>"
        f"<body><article><h1>{shown}</h1>{text}</article></body></html>"
    ).encode()


def rss(items: list[tuple[str, str, str]]) -> bytes:
    """RSS with (guid, link, title) entries."""
    entries = "".join(
        f"<item><guid>{guid}</guid><link>{link}</link><title>{_xml(title)}</title></item>"
        for guid, link, title in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>t</title><link>http://x/</link><description>d</description>{entries}"
        "</channel></rss>"
    ).encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@cache
def gzip_gzip_bomb(gib: int = 1) -> bytes:
    """``gib`` GiB of zeros gzipped twice: a few kilobytes on the wire."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    inner = b"".join(z.compress(block) for _ in range(gib * 1024)) + z.flush()
    return gzip.compress(inner, 9)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(30)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        path = data.split(b" ", 2)[1].decode("latin-1")
        owner = self.server.owner
        owner.hits.append(path)
        answer = owner.routes.get(path) or Hostile(b"not found", 404)
        headers = {"Content-Length": str(len(answer.body)), "Connection": "close"}
        headers.update(answer.headers)
        head = f"HTTP/1.1 {answer.status} X\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        try:
            self._write(sock, (head + "\r\n").encode("latin-1"), answer.drip_head)
            self._write(sock, answer.body, answer.drip_body)
        except OSError:
            return  # the client gave up: that is the point of most attacks

    def _write(self, sock: socket.socket, data: bytes, drip: float) -> None:
        if drip <= 0:
            sock.sendall(data)
            return
        for i in range(len(data)):
            sock.sendall(data[i : i + 1])
            if self.server.owner.stopping.wait(drip):
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HostileServer


class HostileServer:
    """``with HostileServer() as s: s.routes['/x'] = Hostile(...)``; ``s.url``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"loopback addresses only, got {host!r}")
        self.host = host
        self.routes: dict[str, Hostile] = {}
        self.hits: list[str] = []
        self.stopping = threading.Event()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
