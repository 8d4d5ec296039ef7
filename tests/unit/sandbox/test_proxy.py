from __future__ import annotations

import socket
import threading

import pytest

from mcpwrap._sandbox.proxy import Proxy, host_allowed
from mcpwrap._sandbox.settings import parse_host


def rules(*texts):
    return tuple(parse_host(t, ()) for t in texts)


@pytest.mark.parametrize(
    ("host", "port", "allowed"),
    [
        ("api.github.com", 443, True),
        ("API.GitHub.com.", 443, True),
        ("evil.com", 443, False),
        ("api.github.com.evil.com", 443, False),
        ("registry.npmjs.org", 443, True),
        ("npmjs.org", 443, False),  # *.npmjs.org: subdomains only
        ("10.1.2.3", 5432, True),
        ("10.1.2.3", 22, False),
        ("::ffff:10.1.2.3", 5432, True),  # an IPv4-mapped spelling is the same address
        ("2852039166", 80, False),  # 169.254.169.254 as one number: not a listed name
        ("169.254.169.254", 80, False),
    ],
)
def test_hosts_are_matched_in_canonical_form(host, port, allowed):
    assert host_allowed(host, port, rules("api.github.com", "*.npmjs.org", "10.0.0.0/8:5432")) is allowed


class Upstream:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.got: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(100)
                self.got.append(data)
                conn.sendall(b"pong:" + data)


@pytest.fixture
def proxy():
    upstream = Upstream()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    denied: list[tuple] = []
    p = Proxy(listener, rules(f"127.0.0.1:{upstream.port}"), lambda h, port, via: denied.append((h, port, via)))
    p.start()
    yield p, listener.getsockname()[1], upstream, denied
    p.close()
    upstream.sock.close()


def test_http_connect_to_a_listed_host_is_tunnelled(proxy):
    p, port, upstream, denied = proxy
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"CONNECT 127.0.0.1:{upstream.port} HTTP/1.1\r\n\r\n".encode())
        assert s.recv(100).startswith(b"HTTP/1.1 200")
        s.sendall(b"ping")
        assert s.recv(100) == b"pong:ping"
    assert denied == []


def test_socks5_by_name_is_refused_unless_listed(proxy):
    p, port, upstream, denied = proxy
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x05\x01\x00")
        assert s.recv(2) == b"\x05\x00"
        name = b"localhost"
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + upstream.port.to_bytes(2, "big"))
        assert s.recv(10)[1] == 2  # "connection not allowed by ruleset"
    assert denied == [("localhost", upstream.port, "socks5")]
    assert upstream.got == []


def test_a_request_head_too_large_is_refused(proxy):
    p, port, upstream, denied = proxy
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"CONNECT " + b"a" * 20000)
        assert s.recv(100).startswith(b"HTTP/1.1 431")
