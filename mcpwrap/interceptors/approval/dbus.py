"""A minimal D-Bus client: just enough of the wire protocol to send one method call over the session bus.

Why not ``notify-send``: a command's arguments are readable by every process of every user in
``/proc/<pid>/cmdline``; a notification carrying a one-time approval code must never travel there (a process
with no terminal could read the code and approve a call itself). Speaking the protocol over the bus socket
keeps the text inside this process and the bus.

What is here (the D-Bus specification, "Message Protocol"):

- addresses: ``unix:path=`` and ``unix:abstract=`` entries of ``$DBUS_SESSION_BUS_ADDRESS`` (``;``-separated,
  values percent-escaped), else ``$XDG_RUNTIME_DIR/bus``;
- authentication: SASL ``EXTERNAL`` with the uid (the kernel vouches for it through the socket), then ``BEGIN``;
- messages: little-endian marshalling of the basic types and of arrays, structs, dict entries and variants, with
  the specification's alignment rules (every value aligned to its own size, structs and dict entries to 8,
  relative to the start of the message); the header fields path, interface, member, error name, reply serial,
  destination, sender, signature.

No file descriptors, no introspection, no big-endian peers' quirks beyond reading them. Every socket operation has
a deadline. Errors are :class:`DBusError` with a message fit to show a person.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

__all__ = [
    "DBusError",
    "Connection",
    "Message",
    "METHOD_CALL",
    "METHOD_RETURN",
    "ERROR",
    "SIGNAL",
    "session_bus_address",
    "marshal",
    "unmarshal",
]

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
NO_REPLY_EXPECTED = 0x1
MAX_MESSAGE = 1 << 20  # bytes: far above any reply this client waits for; a larger claimed length is a broken peer
MAX_AUTH_LINE = 4096  # bytes of one SASL line
# The header fields this client reads and writes: code -> (attribute of Message, type).
_FIELDS = {
    1: ("path", "o"),
    2: ("interface", "s"),
    3: ("member", "s"),
    4: ("error_name", "s"),
    5: ("reply_serial", "u"),
    6: ("destination", "s"),
    7: ("sender", "s"),
    8: ("signature", "g"),
}
_FIELD_CODES = {name: (code, sig) for code, (name, sig) in _FIELDS.items()}
# Fixed-size types: struct format and size (each is aligned to its size).
_FIXED = {"y": ("B", 1), "b": ("I", 4), "n": ("h", 2), "q": ("H", 2), "i": ("i", 4), "u": ("I", 4), "x": ("q", 8), "t": ("Q", 8), "d": ("d", 8), "h": ("I", 4)}
_ALIGN = {**{k: size for k, (_, size) in _FIXED.items()}, "s": 4, "o": 4, "g": 1, "a": 4, "(": 8, "{": 8, "v": 1}


class DBusError(Exception):
    """The bus could not be reached, refused us, or spoke something this client cannot read."""


# --- signatures ------------------------------------------------------------------------------------------------------


def _one_type(sig: str, i: int) -> int:
    """End index of the single complete type starting at sig[i]."""
    if i >= len(sig):
        raise DBusError(f"truncated signature {sig!r}")
    c = sig[i]
    if c == "a":
        return _one_type(sig, i + 1)
    if c in "({":
        close = ")" if c == "(" else "}"
        j = i + 1
        while j < len(sig) and sig[j] != close:
            j = _one_type(sig, j)
        if j >= len(sig):
            raise DBusError(f"unbalanced signature {sig!r}")
        return j + 1
    if c in _ALIGN:
        return i + 1
    raise DBusError(f"unknown type {c!r} in signature {sig!r}")


def split_signature(sig: str) -> list[str]:
    types, i = [], 0
    while i < len(sig):
        j = _one_type(sig, i)
        types.append(sig[i:j])
        i = j
    return types


# --- marshalling -------------------------------------------------------------------------------------------------------


def _pad(buf: bytearray, align: int) -> None:
    buf.extend(b"\0" * (-len(buf) % align))


def _put(buf: bytearray, t: str, value: Any) -> None:
    c = t[0]
    _pad(buf, _ALIGN[c])
    if c in _FIXED:
        buf.extend(struct.pack("<" + _FIXED[c][0], int(bool(value)) if c == "b" else value))
    elif c in "so":
        data = value.encode("utf-8")
        buf.extend(struct.pack("<I", len(data)) + data + b"\0")
    elif c == "g":
        data = value.encode("ascii")
        buf.extend(bytes([len(data)]) + data + b"\0")
    elif c == "v":
        inner, v = value  # a variant is (signature, value)
        _put(buf, "g", inner)
        _put(buf, inner, v)
    elif c == "a":
        elem = t[1:]
        at = len(buf)
        buf.extend(b"\0\0\0\0")
        _pad(buf, _ALIGN[elem[0]])  # the padding before the first element is not part of the length
        start = len(buf)
        items = value.items() if elem[0] == "{" else value
        for item in items:
            _put(buf, elem, item)
        buf[at : at + 4] = struct.pack("<I", len(buf) - start)
    elif c in "({":
        for member, v in zip(split_signature(t[1:-1]), value, strict=True):
            _put(buf, member, v)
    else:  # pragma: no cover - split_signature refuses unknown types first
        raise DBusError(f"cannot marshal {t!r}")


def marshal(sig: str, values: list | tuple, buf: bytearray | None = None) -> bytearray:
    """Append ``values`` (one per complete type of ``sig``) to ``buf``, aligned relative to ``buf``'s start."""
    buf = bytearray() if buf is None else buf
    for t, v in zip(split_signature(sig), values, strict=True):
        _put(buf, t, v)
    return buf


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, little: bool = True) -> None:
        self.data, self.pos, self.end = data, pos, "<" if little else ">"

    def align(self, n: int) -> None:
        self.pos += -self.pos % n

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DBusError("truncated message")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def get(self, t: str) -> Any:
        c = t[0]
        self.align(_ALIGN[c])
        if c in _FIXED:
            fmt, size = _FIXED[c]
            (v,) = struct.unpack(self.end + fmt, self.take(size))
            return bool(v) if c == "b" else v
        if c in "so":
            (n,) = struct.unpack(self.end + "I", self.take(4))
            text = self.take(n + 1)[:-1]
            return text.decode("utf-8", "replace")
        if c == "g":
            n = self.take(1)[0]
            return self.take(n + 1)[:-1].decode("ascii", "replace")
        if c == "v":
            inner = self.get("g")
            if len(split_signature(inner)) != 1:
                raise DBusError(f"bad variant signature {inner!r}")
            return (inner, self.get(inner))
        if c == "a":
            (n,) = struct.unpack(self.end + "I", self.take(4))
            if n > MAX_MESSAGE:
                raise DBusError("array too long")
            elem = t[1:]
            self.align(_ALIGN[elem[0]])
            stop = self.pos + n
            items = []
            while self.pos < stop:
                items.append(self.get(elem))
            return dict(items) if elem[0] == "{" else items
        if c in "({":
            return tuple(self.get(m) for m in split_signature(t[1:-1]))
        raise DBusError(f"cannot read type {t!r}")  # pragma: no cover


def unmarshal(sig: str, data: bytes, pos: int = 0, little: bool = True) -> list:
    """The values of ``sig`` read from ``data`` at ``pos`` (alignment relative to ``data``'s start)."""
    reader = _Reader(data, pos, little)
    return [reader.get(t) for t in split_signature(sig)]


# --- messages ----------------------------------------------------------------------------------------------------------


@dataclass
class Message:
    type: int
    serial: int = 0
    flags: int = 0
    path: str | None = None
    interface: str | None = None
    member: str | None = None
    error_name: str | None = None
    reply_serial: int | None = None
    destination: str | None = None
    sender: str | None = None
    signature: str = ""
    body: list = field(default_factory=list)

    def encode(self) -> bytes:
        body = marshal(self.signature, self.body) if self.signature else bytearray()
        fields = []
        for name, (code, sig) in _FIELD_CODES.items():
            value = getattr(self, name)
            if value not in (None, ""):
                fields.append((code, (sig, value)))
        head = marshal("yyyyuua(yv)", [ord("l"), self.type, self.flags, 1, len(body), self.serial, fields])
        _pad(head, 8)
        return bytes(head + body)


def _frame_length(head: bytes) -> int:
    """Total length of the message whose first 16 bytes are ``head``."""
    if head[0:1] not in (b"l", b"B"):
        raise DBusError("not a D-Bus message")
    end = "<" if head[0:1] == b"l" else ">"
    body_len, _serial, fields_len = struct.unpack(end + "III", head[4:16])
    total = 16 + fields_len + (-(16 + fields_len) % 8) + body_len
    if total > MAX_MESSAGE:
        raise DBusError(f"message of {total} bytes is too large")
    return total


def decode(data: bytes) -> Message:
    little = data[0:1] == b"l"
    _e, mtype, flags, _version, _body_len, serial, fields = unmarshal("yyyyuua(yv)", data, 0, little)
    msg = Message(type=mtype, serial=serial, flags=flags)
    for code, (_sig, value) in fields:
        if code in _FIELDS:
            setattr(msg, _FIELDS[code][0], value)
    msg.signature = msg.signature or ""
    body_at = 16 + struct.unpack(("<" if little else ">") + "I", data[12:16])[0]
    body_at += -body_at % 8
    if msg.signature:
        msg.body = unmarshal(msg.signature, data[body_at:], 0, little)
    return msg


# --- the connection ----------------------------------------------------------------------------------------------------


def session_bus_address() -> str | None:
    """The session bus's address: ``$DBUS_SESSION_BUS_ADDRESS``, else ``$XDG_RUNTIME_DIR/bus`` when it exists."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return "unix:path=" + os.path.join(runtime, "bus")
    return None


def _socket_paths(address: str) -> list[str]:
    """The AF_UNIX addresses (abstract ones with a leading NUL) of an address's usable entries, in order."""
    paths = []
    for entry in address.split(";"):
        transport, _, params = entry.partition(":")
        if transport != "unix":
            continue
        keys = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        if "path" in keys:
            paths.append(unquote(keys["path"]))
        elif "abstract" in keys:
            paths.append("\0" + unquote(keys["abstract"]))
    return paths


class Connection:
    """One authenticated connection to a bus, used from one thread, with a deadline for everything it does."""

    def __init__(self, address: str, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.serial = 0
        self.unique_name = ""
        self._buf = b""
        paths = _socket_paths(address)
        if not paths:
            raise DBusError(f"no unix: entry in the bus address {address!r}")
        last: Exception | None = None
        for path in paths:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(self._left())
                sock.connect(path)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            self.sock = sock
            break
        else:
            shown = paths[-1].replace("\0", "@")
            raise DBusError(f"the session bus could not be reached ({shown}: {getattr(last, 'strerror', None) or last})")
        try:
            self._authenticate()
            reply = self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello")
            self.unique_name = reply.body[0] if reply.body else ""
        except BaseException:
            self.close()
            raise

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DBusError("the session bus did not answer in time")
        return left

    def _send(self, data: bytes) -> None:
        try:
            self.sock.settimeout(self._left())
            self.sock.sendall(data)
        except TimeoutError:
            raise DBusError("the session bus did not answer in time") from None
        except OSError as exc:
            raise DBusError(f"the session bus connection failed ({exc.strerror or exc})") from None

    def _recv_until(self, n: int) -> None:
        while len(self._buf) < n:
            try:
                self.sock.settimeout(self._left())
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise DBusError("the session bus did not answer in time") from None
            except OSError as exc:
                raise DBusError(f"the session bus connection failed ({exc.strerror or exc})") from None
            if not chunk:
                raise DBusError("the session bus closed the connection")
            self._buf += chunk

    def _auth_line(self) -> str:
        while b"\r\n" not in self._buf:
            if len(self._buf) > MAX_AUTH_LINE:
                raise DBusError("the session bus sent an overlong authentication line")
            self._recv_until(len(self._buf) + 1)
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line.decode("ascii", "replace")

    def _authenticate(self) -> None:
        uid = str(os.getuid()).encode().hex()
        self._send(b"\0AUTH EXTERNAL " + uid.encode() + b"\r\n")
        answer = self._auth_line()
        if not answer.startswith("OK "):
            raise DBusError(f"the session bus refused authentication ({answer[:80]})")
        self._send(b"BEGIN\r\n")

    def send(self, msg: Message) -> int:
        self.serial += 1
        msg.serial = self.serial
        self._send(msg.encode())
        return msg.serial

    def receive(self) -> Message:
        self._recv_until(16)
        total = _frame_length(self._buf[:16])
        self._recv_until(total)
        data, self._buf = self._buf[:total], self._buf[total:]
        return decode(data)

    def call(self, destination: str, path: str, interface: str, member: str, signature: str = "", body: list | None = None) -> Message:
        """Call a method and return its METHOD_RETURN; an ERROR reply raises :class:`DBusError` naming it."""
        serial = self.send(
            Message(METHOD_CALL, path=path, interface=interface, member=member, destination=destination, signature=signature, body=list(body or []))
        )
        while True:
            reply = self.receive()
            if reply.reply_serial != serial or reply.type not in (METHOD_RETURN, ERROR):
                continue  # a signal (NameAcquired …) or someone else's business
            if reply.type == ERROR:
                detail = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
                raise DBusError(f"{reply.error_name}{': ' + detail[:200] if detail else ''}")
            return reply

    def close(self) -> None:
        try:
            self.sock.close()
        except (AttributeError, OSError):
            pass

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
