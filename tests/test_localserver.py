"""The local test server: routes, static files, conditional GET, delays, giant bodies."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import pytest

from pipeline.localserver import LocalServer, RequestRecord, Response


def _get(server: LocalServer, path: str, headers: dict[str, str] | None = None, timeout=5.0):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_route_answers_and_records_request(local_server: LocalServer) -> None:
    local_server.route("/a", Response(200, b"hello", {"Content-Type": "text/plain"}))
    status, headers, body = _get(local_server, "/a?x=1", {"X-Test": "yes"})
    assert (status, body) == (200, b"hello")
    assert headers["content-type"] == "text/plain"
    rec = local_server.requests[-1]
    assert rec.method == "GET" and rec.path == "/a?x=1"
    assert rec.host == f"127.0.0.1:{local_server.port}"
    assert rec.headers["X-Test"] == "yes"
    assert local_server.url == f"http://127.0.0.1:{local_server.port}"


def test_unknown_path_is_404(local_server: LocalServer) -> None:
    assert _get(local_server, "/nope")[0] == 404


def test_no_content_type_unless_given(local_server: LocalServer) -> None:
    local_server.route("/raw", Response(200, "ليبيا".encode("cp1256")))
    status, headers, body = _get(local_server, "/raw")
    assert status == 200 and "content-type" not in headers
    assert body.decode("cp1256") == "ليبيا"


def test_callable_route_sees_request(local_server: LocalServer) -> None:
    def answer(req: RequestRecord) -> Response:
        return Response(200, req.path.encode())

    local_server.route("/echo", answer)
    assert _get(local_server, "/echo?q=2")[2] == b"/echo?q=2"


def test_etag_conditional_get(local_server: LocalServer) -> None:
    local_server.route("/feed", Response(200, b"<rss/>", {"ETag": '"v1"'}))
    status, headers, _ = _get(local_server, "/feed")
    assert status == 200 and headers["etag"] == '"v1"'
    status, _, body = _get(local_server, "/feed", {"If-None-Match": '"v1"'})
    assert status == 304 and body == b""
    assert _get(local_server, "/feed", {"If-None-Match": '"v0"'})[0] == 200


def test_last_modified_conditional_get(local_server: LocalServer) -> None:
    lm = "Wed, 21 Oct 2020 07:28:00 GMT"
    local_server.route("/feed", Response(200, b"<rss/>", {"Last-Modified": lm}))
    assert _get(local_server, "/feed", {"If-Modified-Since": lm})[0] == 304
    later = "Thu, 22 Oct 2020 07:28:00 GMT"
    assert _get(local_server, "/feed", {"If-Modified-Since": later})[0] == 304
    earlier = "Tue, 20 Oct 2020 07:28:00 GMT"
    assert _get(local_server, "/feed", {"If-Modified-Since": earlier})[0] == 200


def test_serve_dir_by_suffix_and_no_escape(local_server: LocalServer, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "a.html").write_bytes(b"<html>a</html>")
    (tmp_path / "site" / "f.rss").write_bytes(b"<rss/>")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    local_server.serve_dir("/s", tmp_path / "site")
    status, headers, body = _get(local_server, "/s/a.html")
    assert (status, body, headers["content-type"]) == (200, b"<html>a</html>", "text/html")
    assert _get(local_server, "/s/f.rss")[1]["content-type"] == "application/rss+xml"
    assert _get(local_server, "/s/../secret.txt")[0] == 404
    assert _get(local_server, "/s/%2e%2e/secret.txt")[0] == 404


def test_delay_makes_client_time_out(local_server: LocalServer) -> None:
    local_server.route("/slow", Response(200, b"late", delay=2.0))
    with pytest.raises((TimeoutError, socket.timeout)):
        _get(local_server, "/slow", timeout=0.2)


def test_giant_chunked_body_streams(local_server: LocalServer) -> None:
    size = 3 * 1024 * 1024 + 17
    local_server.route(
        "/big", Response(200, headers={"Content-Type": "text/html"}, chunked_body_size=size)
    )
    status, headers, body = _get(local_server, "/big")
    assert status == 200 and headers.get("transfer-encoding") == "chunked"
    assert len(body) == size


def test_other_loopback_hosts_work() -> None:
    with LocalServer("127.0.0.2") as a, LocalServer("127.0.0.3") as b:
        a.route("/", Response(200, b"a"))
        b.route("/", Response(200, b"b"))
        assert _get(a, "/")[2] == b"a" and _get(b, "/")[2] == b"b"
        assert a.url.startswith("http://127.0.0.2:")


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "example.org", "::"])
def test_refuses_non_loopback_bind(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalServer(host)


def test_client_hangup_is_quiet(local_server: LocalServer, capfd: pytest.CaptureFixture) -> None:
    import struct
    import time

    local_server.route("/a", Response(200, b"a"))
    sock = socket.create_connection((local_server.host, local_server.port))
    sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.recv(1024)
    # reset the kept-alive connection (linger 0) while the server waits for the next request
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    time.sleep(0.3)  # let the server thread notice; the assertion does not depend on timing
    assert "Traceback" not in capfd.readouterr().err
