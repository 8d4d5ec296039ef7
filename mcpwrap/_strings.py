"""Walking and rewriting the decoded strings of a JSON value (values and keys), with their JSON paths.

Content interceptors look at what a peer will *read*: the decoded strings inside params and results, never the
raw JSON text (an escape such as ``\\u0040`` must not hide an ``@`` from a detector, and a detector must not
match across the boundary of two values). This module is the one place that knows which strings to skip, and
it skips only what no reader takes for text — *real* binary content (:func:`is_binary_content`):

- ``data`` of an ``image``/``audio`` content item that is valid base64 and starts with the signature of an
  image or audio format (PNG, JPEG, GIF, WebP, WAV, MP3, Ogg, FLAC…);
- ``blob`` of a resource whose ``mimeType`` is binary (images, audio, video, fonts, archives, PDF,
  ``application/octet-stream``…), when it is valid base64 (and, for image and audio types, starts with such a
  signature).

Everything else is text, wherever it sits: a ``blob`` or ``data`` field anywhere else, a "binary" item whose
payload is not base64 or not the format it claims, and object keys (a key is a string a reader sees; pass
``keys=True``: keys are reported with a ``<key>`` path element and :func:`map_strings` can rewrite them).

Depth: values nest at most :data:`mcpwrap._protocol.MAX_DEPTH` levels — the decoder refuses deeper messages —
and the walkers reach exactly that deep. A deeper value (only something built in-process can be) raises
:class:`DepthError` instead of being skipped in silence, so an interceptor fails closed on it.

Paths are tuples of keys and indexes; :func:`json_path` renders them as ``$.content[0].text``.
Rewriting is copy-on-write: containers on the path of a change are copied, everything else is shared, and a
value with no change is returned as the very same object (callers compare with ``is``).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterator
from typing import Any

from ._protocol import MAX_DEPTH

__all__ = [
    "BINARY_ITEM_TYPES",
    "HOUSEKEEPING_METHODS",
    "MAX_DEPTH",
    "DepthError",
    "KeyCollision",
    "is_binary_content",
    "iter_strings",
    "map_strings",
    "json_path",
    "content_roots",
]

BINARY_ITEM_TYPES = frozenset({"image", "audio"})
MIN_KEY_CHARS = 4  # shorter keys are not scanned: no detector matches fewer characters

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class DepthError(ValueError):
    """A value nests deeper than MAX_DEPTH: it cannot have come from the decoder, and is not walked."""


class KeyCollision(ValueError):
    """Rewriting keys would give one object the same key twice (the message would become ambiguous)."""

    def __init__(self, path: tuple, key: str) -> None:
        super().__init__(f"two keys of the object at {json_path(path)} would both read {key!r}")
        self.path = path
        self.key = key


def _too_deep(path: tuple) -> DepthError:
    return DepthError(f"the value at {json_path(path[:8])}… nests deeper than {MAX_DEPTH} levels")


# --- what is binary --------------------------------------------------------------------------------------------

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_SIGNATURE_CHARS = 24  # base64 characters decoded to read a format's signature (18 bytes)

# Leading bytes of the image and audio formats MCP servers send. ``None`` matches any byte (RIFF/ftyp sizes).
_IMAGE_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"\x00\x00\x01\x00",  # ICO
    b"\xff\x0a",  # JPEG XL codestream
    b"\x00\x00\x00\x0cJXL ",  # JPEG XL container
)
_AUDIO_SIGNATURES: tuple[bytes, ...] = (
    b"ID3",  # MP3 with an ID3 tag
    b"\xff\xfb",  # MPEG audio frames
    b"\xff\xf3",
    b"\xff\xf2",
    b"\xff\xf1",  # AAC (ADTS)
    b"\xff\xf9",
    b"OggS",
    b"fLaC",
    b"FORM",  # AIFF
    b"\x1a\x45\xdf\xa3",  # Matroska / WebM
    b"#!AMR",
)
_RIFF_FORMS = {"image": (b"WEBP",), "audio": (b"WAVE", b"AVI ")}
_FTYP_KINDS = ("image", "audio")  # ISO base media (AVIF/HEIC images, M4A audio): "....ftyp" at byte 4

# Words that make a mimeType textual even when its payload arrives as a blob (image/svg+xml, application/json):
# such a blob is scanned as it is, like any other string.
_TEXTUAL_MIME_WORDS = ("text", "json", "xml", "yaml", "javascript", "ecmascript", "csv", "html", "sql", "toml", "script", "x-sh")
_BINARY_MIME_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
_BINARY_APPLICATION_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-7z-compressed",
        "application/zstd",
        "application/wasm",
        "application/x-protobuf",
        "application/vnd.sqlite3",
    }
)


def _binary_mime(mime: Any) -> bool:
    if not isinstance(mime, str) or len(mime) > 255:
        return False
    m = mime.split(";", 1)[0].strip().lower()
    if any(word in m for word in _TEXTUAL_MIME_WORDS):
        return False
    return m.startswith(_BINARY_MIME_PREFIXES) or m in _BINARY_APPLICATION_TYPES or m.startswith("application/vnd.")


def _base64_bytes(value: str) -> bytes | None:
    """``value`` as ASCII bytes if it is well-formed standard base64 (padding only at the end), else None."""
    if not value or not value.isascii():
        return None
    raw = value.encode("ascii")
    rest = raw.translate(None, _B64_ALPHABET)  # C speed: what is left is not in the alphabet
    if rest:
        if rest.strip(b"=") or len(rest) > 2 or not raw.endswith(rest):
            return None
        return raw if len(raw) % 4 == 0 else None
    return raw if len(raw) % 4 != 1 else None


def _has_signature(raw: bytes, kind: str) -> bool:
    head = raw[:_SIGNATURE_CHARS]
    try:
        start = binascii.a2b_base64(head + b"=" * (-len(head) % 4))
    except binascii.Error:
        return False
    if start[:4] == b"RIFF" and start[8:12] in _RIFF_FORMS.get(kind, ()):
        return True
    if kind in _FTYP_KINDS and start[4:8] == b"ftyp":
        return True
    return start.startswith(_IMAGE_SIGNATURES if kind == "image" else _AUDIO_SIGNATURES)


def is_binary_content(container: dict, key: str, value: str) -> bool:
    """Whether ``container[key] == value`` is real binary content (see the module docstring): not text."""
    if key == "data":
        kind = container.get("type")
        if kind not in BINARY_ITEM_TYPES:
            return False
        raw = _base64_bytes(value)
        return raw is not None and _has_signature(raw, kind)
    if key == "blob":
        mime = container.get("mimeType")
        if not isinstance(mime, str) or not _binary_mime(mime):
            return False
        raw = _base64_bytes(value)
        if raw is None:
            return False
        major = mime.split("/", 1)[0].strip().lower()
        return _has_signature(raw, major) if major in BINARY_ITEM_TYPES else True
    return False


def _is_binary_field(container: dict, key: str, value: str) -> bool:
    return (key == "data" or key == "blob") and is_binary_content(container, key, value)


# --- walking ---------------------------------------------------------------------------------------------------


def iter_strings(value: Any, path: tuple = (), *, keys: bool = False) -> Iterator[tuple[tuple, str]]:
    """Yield ``(path, string)`` for every string value (and, with ``keys``, every object key) inside ``value``.

    Raises :class:`DepthError` for a value deeper than MAX_DEPTH (counting ``path`` as the levels above it).
    """
    stack: list[tuple[tuple, Any]] = [(path, value)]
    while stack:
        p, v = stack.pop()
        if isinstance(v, str):
            yield p, v
        elif isinstance(v, dict):
            if len(p) >= MAX_DEPTH:
                raise _too_deep(p)
            items = list(v.items())
            for k, child in reversed(items):
                if isinstance(child, str):
                    if not _is_binary_field(v, k, child):
                        stack.append((p + (k,), child))
                elif isinstance(child, (dict, list)):
                    stack.append((p + (k,), child))
            if keys:
                for k, _ in reversed(items):
                    if isinstance(k, str) and len(k) >= MIN_KEY_CHARS:
                        stack.append((p + (k, "<key>"), k))
        elif isinstance(v, list):
            if len(p) >= MAX_DEPTH:
                raise _too_deep(p)
            for i in range(len(v) - 1, -1, -1):
                child = v[i]
                if isinstance(child, (str, dict, list)):
                    stack.append((p + (i,), child))


def map_strings(value: Any, fn: Callable[[tuple, str], str | None], path: tuple = (), *, keys: bool = False) -> Any:
    """Return ``value`` with every string value ``s`` at path ``p`` replaced by ``fn(p, s)`` (None: keep).

    With ``keys``, every object key ``k`` is offered too, as ``fn(p + (k, "<key>"), k)``; a rewritten key keeps
    its place in the object. Rewriting that would give one object two equal keys raises :class:`KeyCollision`
    (the caller decides; a message with a repeated key is ambiguous and never forwarded). Binary content is left
    alone. Unchanged subtrees are shared; an unchanged value is returned as is. Raises :class:`DepthError` for a
    value deeper than MAX_DEPTH.
    """
    if isinstance(value, str):
        new = fn(path, value)
        return value if new is None else new
    if isinstance(value, dict):
        if len(path) >= MAX_DEPTH:
            raise _too_deep(path)
        out: dict | None = None
        for k, child in value.items():
            if isinstance(child, str):
                if _is_binary_field(value, k, child):
                    continue
                new = fn(path + (k,), child)
                if new is None or new == child:
                    continue
            elif isinstance(child, (dict, list)):
                new = map_strings(child, fn, path + (k,), keys=keys)
                if new is child:
                    continue
            else:
                continue
            if out is None:
                out = dict(value)
            out[k] = new
        if keys:
            out = _map_keys(value if out is None else out, fn, path) or out
        return value if out is None else out
    if isinstance(value, list):
        if len(path) >= MAX_DEPTH:
            raise _too_deep(path)
        lst: list | None = None
        for i, child in enumerate(value):
            if isinstance(child, (str, dict, list)):
                new = map_strings(child, fn, path + (i,), keys=keys)
                if new is child:
                    continue
                if lst is None:
                    lst = list(value)
                lst[i] = new
        return value if lst is None else lst
    return value


def _map_keys(obj: dict, fn: Callable[[tuple, str], str | None], path: tuple) -> dict | None:
    """``obj`` with its keys rewritten by ``fn`` (order kept), or None when no key changes."""
    renamed: dict[str, str] = {}
    for k in obj:
        if isinstance(k, str) and len(k) >= MIN_KEY_CHARS:
            nk = fn(path + (k, "<key>"), k)
            if nk is not None and nk != k:
                renamed[k] = nk
    if not renamed:
        return None
    out: dict = {}
    for k, v in obj.items():
        nk = renamed.get(k, k)
        if nk in out:
            raise KeyCollision(path, nk)
        out[nk] = v
    return out


def json_path(path: tuple | list) -> str:
    """``("content", 0, "text")`` → ``$.content[0].text``; keys that are not identifiers are quoted."""
    out = ["$"]
    for part in path:
        if part == "<key>":
            out.append("<key>")
        elif isinstance(part, int):
            out.append(f"[{part}]")
        elif isinstance(part, str) and _IDENT.match(part):
            out.append(f".{part}")
        else:
            out.append("[" + repr(str(part)).replace("'", '"') + "]" if '"' not in str(part) else f"[{str(part)!r}]")
    return "".join(out)


# Messages whose strings are protocol housekeeping, not content a peer reads or acts on (the injection scan
# skips them; the secrets redactor does not: a secret reaches a peer whatever the method).
HOUSEKEEPING_METHODS = frozenset(
    {
        "initialize",
        "notifications/initialized",
        "server/discover",
        "ping",
        "notifications/cancelled",
        "notifications/tools/list_changed",
        "notifications/resources/list_changed",
        "notifications/prompts/list_changed",
        "notifications/roots/list_changed",
        "logging/setLevel",
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "prompts/list",
        "roots/list",
    }
)


def content_roots(envelope: dict) -> tuple[str, ...]:
    """The envelope keys that carry content: ``params`` of requests/notifications, ``result``/``error``."""
    return tuple(k for k in ("params", "result", "error") if isinstance(envelope.get(k), (dict, list, str)))
