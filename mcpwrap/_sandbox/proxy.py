"""The filtering proxy: the only way out of a server's network namespace in ``network: {hosts: [...]}`` mode.

The server's namespace has a loopback interface and nothing else. Its child created a listening socket
there (127.0.0.1:3128) and handed it to mcpwrap, which accepts connections on it from outside the namespace
and dials the real destination from the host's network, after checking it against the policy's hosts:

- **HTTP**: ``CONNECT host:port`` (HTTPS and anything tunnelled) and plain ``GET http://host/…`` requests;
- **SOCKS5** (no authentication; CONNECT only), by name (``socks5h``) or address.

The first byte tells the two apart (5 is SOCKS). The server learns the proxy from ``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY`` (upper and lower case). A program that ignores them has no route and fails;
it never leaves the namespace. Names are matched as the policy spells them (lower case, no trailing dot,
IDNA), and resolved by mcpwrap only after they matched; an address is allowed only when the policy lists it
(or a network containing it). Every refusal is reported through ``on_denied`` (the audit record names the host
and port) and answered with 403 / SOCKS "not allowed". Relaying is two threads per connection, blocking
sockets, at most :data:`MAX_CONNECTIONS` at once.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable

from .settings import HostRule

__all__ = ["Proxy", "host_allowed", "MAX_CONNECTIONS", "HEADER_LIMIT", "CONNECT_TIMEOUT"]

MAX_CONNECTIONS = 256  # concurrent tunnels per server; more wait in the listen backlog
HEADER_LIMIT = 16 * 1024  # bytes of request head the proxy reads before refusing
CONNECT_TIMEOUT = 15.0  # seconds to reach the destination
HANDSHAKE_TIMEOUT = 30.0  # seconds for the server to send its request head
_CHUNK = 64 * 1024


def _canonical_name(host: str) -> str:
    name = host.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def host_allowed(host: str, port: int, rules: tuple[HostRule, ...]) -> bool:
    """Whether ``host:port`` is listed. ``host`` is a name or an IP literal, as the server asked for it."""
    literal = host.strip("[]")
    try:
        addr = ipaddress.ip_address(literal)
    except ValueError:
        addr = None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped  # ::ffff:a.b.c.d is a.b.c.d to the kernel
    name = None if addr is not None else _canonical_name(host)
    for rule in rules:
        if rule.port is not None and rule.port != port:
            continue
        if addr is not None:
            try:
                if "/" in rule.host:
                    if addr in ipaddress.ip_network(rule.host):
                        return True
                elif addr == ipaddress.ip_address(rule.host):
                    return True
            except ValueError:
                continue
        elif name is not None:
            if rule.wildcard:
                if name.endswith("." + rule.host):
                    return True
            elif name == rule.host:
                return True
    return False


class Proxy:
    """Accepts on ``listener`` (inside the server's namespace) and relays allowed connections outside."""

    def __init__(
        self,
        listener: socket.socket,
        rules: tuple[HostRule, ...],
        on_denied: Callable[[str, int, str], None],
        on_allowed: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self.listener = listener
        self.rules = rules
        self.on_denied = on_denied
        self.on_allowed = on_allowed
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="mcpwrap-proxy", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self._slots.acquire()
            threading.Thread(target=self._serve, args=(conn,), name="mcpwrap-proxy-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(HANDSHAKE_TIMEOUT)
            first = conn.recv(1)
            if not first:
                return
            if first == b"\x05":
                self._socks(conn)
            else:
                self._http(conn, first)
        except OSError:
            pass
        finally:
            conn.close()
            self._slots.release()

    # --- the two protocols -------------------------------------------------------------------------------------

    def _http(self, conn: socket.socket, head: bytes) -> None:
        while b"\r\n\r\n" not in head:
            if len(head) > HEADER_LIMIT:
                conn.sendall(b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n")
                return
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        request_line, _, rest = head.partition(b"\r\n")
        parts = request_line.split(b" ")
        if len(parts) != 3:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            return
        method, target, version = parts
        if method.upper() == b"CONNECT":
            host, port = _split_host_port(target.decode("latin-1"), 443)
            upstream = self._dial(host, port, "http-connect", conn, http=True)
            if upstream is None:
                return
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            leftover = rest.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in rest else b""
            if leftover:
                upstream.sendall(leftover)
            self._pipe(conn, upstream)
            return
        # A plain-HTTP request through the proxy: the target is an absolute URL.
        url = target.decode("latin-1")
        if not url.lower().startswith("http://"):
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            return
        authority, _, path = url[7:].partition("/")
        host, port = _split_host_port(authority.rpartition("@")[2], 80)
        upstream = self._dial(host, port, "http", conn, http=True)
        if upstream is None:
            return
        upstream.sendall(method + b" /" + path.encode("latin-1") + b" " + version + b"\r\n" + rest)
        self._pipe(conn, upstream)

    def _socks(self, conn: socket.socket) -> None:
        n = _recv_exact(conn, 1)[0]
        methods = _recv_exact(conn, n)
        if 0 not in methods:
            conn.sendall(b"\x05\xff")
            return
        conn.sendall(b"\x05\x00")
        ver, cmd, _rsv, atyp = _recv_exact(conn, 4)
        if ver != 5:
            return
        if atyp == 1:
            host = str(ipaddress.IPv4Address(_recv_exact(conn, 4)))
        elif atyp == 4:
            host = str(ipaddress.IPv6Address(_recv_exact(conn, 16)))
        elif atyp == 3:
            host = _recv_exact(conn, _recv_exact(conn, 1)[0]).decode("latin-1")
        else:
            conn.sendall(b"\x05\x08\x00\x01" + b"\x00" * 6)
            return
        port = int.from_bytes(_recv_exact(conn, 2), "big")
        if cmd != 1:  # only CONNECT: no BIND, no UDP ASSOCIATE
            conn.sendall(b"\x05\x07\x00\x01" + b"\x00" * 6)
            return
        upstream = self._dial(host, port, "socks5", conn, http=False)
        if upstream is None:
            return
        conn.sendall(b"\x05\x00\x00\x01" + b"\x00" * 6)
        self._pipe(conn, upstream)

    # --- shared ----------------------------------------------------------------------------------------------

    def _dial(self, host: str, port: int, via: str, conn: socket.socket, *, http: bool) -> socket.socket | None:
        if not host or not 0 < port < 65536 or not host_allowed(host, port, self.rules):
            self.on_denied(host, port, via)
            conn.sendall(
                b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                b"mcpwrap: this host is not in the sandbox's network allow-list\n"
                if http
                else b"\x05\x02\x00\x01" + b"\x00" * 6
            )
            return None
        try:
            upstream = self._connect(host.strip("[]"), port)
        except PermissionError:
            self.on_denied(host, port, via + " (resolves to a link-local address)")
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n" if http else b"\x05\x02\x00\x01" + b"\x00" * 6)
            return None
        except OSError:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n" if http else b"\x05\x04\x00\x01" + b"\x00" * 6)
            return None
        upstream.settimeout(None)
        conn.settimeout(None)
        if self.on_allowed is not None:
            self.on_allowed(host, port, via)
        return upstream

    def _connect(self, host: str, port: int) -> socket.socket:
        """Connect to an allowed destination. A name that resolves to a local or link-local address — loopback
        (the person's own services), link-local (the cloud metadata service at 169.254.169.254 hands out
        credentials), unspecified, or AWS's IPv6 metadata address — is refused unless that address itself is
        listed: a listed name must not be re-pointed there by its DNS (rebinding)."""
        last: OSError = OSError("no address")
        for family, kind, proto, _name, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            address = str(addr[0])
            if _local(address) and not host_allowed(address, port, self.rules):
                raise PermissionError(address)  # (only address rules can match an address)
            sock = socket.socket(family, kind, proto)
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect(addr)
                return sock
            except OSError as exc:
                sock.close()
                last = exc
        raise last

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while True:
                    data = src.recv(_CHUNK)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        t = threading.Thread(target=pump, args=(b, a), name="mcpwrap-proxy-down", daemon=True)
        t.start()
        pump(a, b)
        t.join()
        b.close()


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


def _split_host_port(authority: str, default: int) -> tuple[str, int]:
    authority = authority.strip()
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif authority.count(":") == 1:
        host, port = authority.split(":")
    else:
        host, port = authority, ""
    try:
        return host, int(port) if port else default
    except ValueError:
        return host, -1


_METADATA_V6 = ipaddress.ip_address("fd00:ec2::254")


def _local(address: str) -> bool:
    """Whether ``address`` is this machine or its link (see :meth:`_connect`)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip == _METADATA_V6
