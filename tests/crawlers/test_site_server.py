"""tanba.app.demo.server: routing by Host, content types, request log."""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from tanba.app.demo.server import Reply, Site, SiteServer


def get(server: SiteServer, host: str, path: str) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", path, headers={"Host": f"{host}:{server.port}"})
    response = conn.getresponse()
    result = (response.status, response.getheader("Content-Type") or "", response.read())
    conn.close()
    return result


def test_routes_by_host_and_records_requests(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_bytes(b"<html>dir</html>")
    (tmp_path / "a.png").write_bytes(b"png")
    sites: dict[str, Site] = {
        "kino.example.kz": {
            "/": b"<html>kino</html>",
            "/fake.jpg": (b"<html>not a jpeg</html>", "image/jpeg"),
            "/photo.jpg": b"jpeg",
            "/moved": Reply(status=301, headers={"Location": "/"}),
            "/q?x=1": b"with query",
        },
        "cdn.example.ru": tmp_path,
    }
    with SiteServer(sites) as server:
        assert get(server, "kino.example.kz", "/") == (
            200,
            "text/html; charset=utf-8",
            b"<html>kino</html>",
        )
        assert get(server, "KINO.example.kz", "/fake.jpg")[1:] == (
            "image/jpeg",
            b"<html>not a jpeg</html>",
        )
        assert get(server, "kino.example.kz", "/photo.jpg")[1] == "image/jpeg"
        assert get(server, "kino.example.kz", "/moved")[0] == 301
        assert get(server, "kino.example.kz", "/q?x=1")[2] == b"with query"
        assert get(server, "kino.example.kz", "/photo.jpg?v=2")[2] == b"jpeg"
        assert get(server, "kino.example.kz", "/robots.txt")[0] == 404
        assert get(server, "cdn.example.ru", "/")[2] == b"<html>dir</html>"
        assert get(server, "cdn.example.ru", "/a.png")[1] == "image/png"
        assert get(server, "cdn.example.ru", "/../etc/passwd")[0] == 404
        assert get(server, "nobody.example", "/")[0] == 404
        assert server.url("kino.example.kz", "/x") == f"http://kino.example.kz:{server.port}/x"
        assert server.resolve_args(["a.kz"]) == ["--resolve", f"a.kz:{server.port}:127.0.0.1"]
    assert server.requests["kino.example.kz"][:2] == ["/", "/fake.jpg"]
    assert server.requests["nobody.example"] == ["/"]
    assert server.log[0].host_header == f"kino.example.kz:{server.port}"


def test_a_client_that_hangs_up_mid_body_leaves_no_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # More than any socket buffer holds, so the server's write must meet the hang-up.
    big = bytes(64 * 1024 * 1024)
    before = set(threading.enumerate())
    with SiteServer({"kino.example.kz": {"/big.bin": big, "/": b"still here"}}) as server:
        client = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        client.sendall(b"GET /big.bin HTTP/1.0\r\nHost: kino.example.kz\r\n\r\n")
        assert client.recv(12) == b"HTTP/1.0 200"  # the reply has started
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # with a reset, as a browser aborting a fetch
        deadline = time.monotonic() + 60
        while any(t.is_alive() for t in set(threading.enumerate()) - before - {server._thread}):
            assert time.monotonic() < deadline, "the handler of the abandoned request never ended"
            time.sleep(0.01)
        assert get(server, "kino.example.kz", "/")[2] == b"still here"
    assert capfd.readouterr().err == ""
