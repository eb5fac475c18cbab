"""A small real HTTP server on a loopback address, for the demo, tests and benchmarks.

Feeds and pages are served over real sockets so that the fetch code under
test is the code that runs in production: no mocked transport. Each route
answers with a :class:`Response` (or a function of the request that returns
one), which can be slow (``delay``), huge (``chunked_body_size``, streamed,
never held in memory) or conditional (ETag / Last-Modified -> 304).

Several "hosts" on one machine: bind one server each to 127.0.0.2,
127.0.0.3, ... (Linux routes the whole 127.0.0.0/8 to loopback). Binding to
anything but a loopback address is refused, so a test can never expose a
port to the network.
"""

from __future__ import annotations

import ipaddress
import mimetypes
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

_CHUNK = 64 * 1024
_FILLER = b"<p>" + b"x" * (_CHUNK - 7) + b"</p>\n"

_CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".json": "application/json",
    ".txt": "text/plain",
}


@dataclass
class Response:
    """What a route answers. Headers are sent verbatim (Content-Type only if given)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (timeout tests)
    chunked_body_size: int = 0  # if > 0: stream this many filler bytes instead of body


@dataclass
class RequestRecord:
    """One request as the server saw it, for assertions on politeness and headers."""

    time: float  # time.monotonic() at arrival
    method: str
    path: str  # path + query
    host: str  # Host header
    headers: dict[str, str]
    body: bytes = b""  # request body (POST: webhook receivers in the alert tests)


Handler = Response | Callable[[RequestRecord], Response]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _header(headers: dict[str, str], name: str) -> str | None:
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return None


def _not_modified(response: Response, request: RequestRecord) -> bool:
    """True when the request's validators match the response's (RFC 9110 13.1)."""
    etag = _header(response.headers, "ETag")
    inm = _header(request.headers, "If-None-Match")
    if etag is not None and inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag.removeprefix("W/") in tags
    last_modified = _header(response.headers, "Last-Modified")
    ims = _header(request.headers, "If-Modified-Since")
    if last_modified is not None and ims is not None:
        if ims.strip() == last_modified.strip():
            return True
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LocalServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client hangs up (timeouts, size caps): that is expected."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_POST(self) -> None:
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        record = RequestRecord(
            time=time.monotonic(),
            method=self.command,
            path=self.path,
            host=self.headers.get("Host", ""),
            headers={k: v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length > 0 else b"",
        )
        owner._record(record)
        response = owner._respond(record)
        if response.delay > 0 and owner._stopping.wait(response.delay):
            self.close_connection = True
            return
        try:
            self._send(response, record, send_body)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            # The client gave up (timeout, size cap): that is what many tests want.
            self.close_connection = True

    def _send(self, response: Response, record: RequestRecord, send_body: bool) -> None:
        if response.status == 200 and _not_modified(response, record):
            self.send_response(304)
            for name in ("ETag", "Last-Modified"):
                value = _header(response.headers, name)
                if value is not None:
                    self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        declared = _header(response.headers, "Content-Length")
        if response.chunked_body_size > 0:
            if declared is None:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if send_body:
                self._stream_filler(response.chunked_body_size, chunked=declared is None)
            return
        if declared is None:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if send_body and response.status not in (204, 304):
            self.wfile.write(response.body)

    def _stream_filler(self, size: int, chunked: bool) -> None:
        left = size
        while left > 0:
            piece = _FILLER[: min(left, len(_FILLER))]
            if chunked:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            left -= len(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


class LocalServer:
    """A threaded HTTP server on a loopback address with programmable routes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if not _is_loopback(host):
            raise ValueError(
                f"LocalServer binds only to loopback addresses (127.0.0.0/8, ::1); got {host!r}"
            )
        self.host = host
        self.port = port
        self.url = ""
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._routes: dict[str, Handler] = {}
        self._dirs: list[tuple[str, Path]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------ configuration
    def route(self, path: str, response: Handler) -> None:
        """Answer ``path`` (exact path, or path + query) with a response or a function."""
        with self._lock:
            self._routes[path] = response

    def serve_dir(self, prefix: str, directory: Path) -> None:
        """Serve files under ``directory`` at ``prefix`` (content type by suffix, no charset)."""
        prefix = "/" + prefix.strip("/")
        with self._lock:
            self._dirs.append((prefix.rstrip("/"), Path(directory).resolve()))

    # ------------------------------------------------------------ lifecycle
    def start(self) -> LocalServer:
        server = _Server((self.host, self.port), _RequestHandler)
        server.owner = self
        self._server = server
        self.port = server.server_address[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}"
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ helpers
    def paths(self) -> list[str]:
        """The paths requested so far, in order (a convenience for assertions)."""
        with self._lock:
            return [r.path for r in self.requests]

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _respond(self, record: RequestRecord) -> Response:
        path_only = urlsplit(record.path).path
        with self._lock:
            handler = self._routes.get(record.path) or self._routes.get(path_only)
            dirs = list(self._dirs)
        if handler is not None:
            return handler(record) if callable(handler) else handler
        for prefix, directory in dirs:
            found = _static_file(unquote(path_only), prefix, directory)
            if found is not None:
                return found
        return Response(404, b"not found\n", {"Content-Type": "text/plain"})


def _static_file(path: str, prefix: str, directory: Path) -> Response | None:
    if not (path == prefix or path.startswith(prefix + "/")):
        return None
    relative = path[len(prefix) :].lstrip("/")
    target = (directory / relative).resolve()
    if not target.is_relative_to(directory):
        return None  # no escaping the served directory with ../
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return None
    ctype = _CONTENT_TYPES.get(target.suffix.lower()) or (
        mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    )
    return Response(200, target.read_bytes(), {"Content-Type": ctype})
