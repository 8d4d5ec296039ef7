"""Strict JSON-RPC decoding, id recovery, and the responses mcpwrap writes itself (the block contract).

Decoding is deliberately stricter than the peers' parsers, because anything two parsers read differently is
a bypass: the bytes must be UTF-8, the JSON must be standard (no NaN/Infinity), objects must not repeat a key
at any depth, and the top level must be an object (or, for 2025-03-26 batches, an array of objects). A line
that fails is never forwarded; :func:`recover_id` then tries to find the request id so that the sender can be
answered instead of left waiting.

Three more rules make every accepted value one that every later stage can carry, on both decoding paths (orjson,
and the stdlib reference it falls back to):

- no lone surrogates: a ``\\udc00`` escape decodes to a code point that UTF-8 cannot encode, so the audit
  writer or the re-encoding of a modified message would fail on it (orjson refuses them; the stdlib does not);
- no non-finite numbers: ``1e999`` (or a 400-digit integer) is infinity to a peer that reads numbers as
  doubles, and mcpwrap would have to write it back as the non-JSON token ``Infinity``;
- at most :data:`mcpwrap._protocol.MAX_DEPTH` levels of nesting: the depth every scanner and walker reaches,
  so nothing the decoder accepts lies beyond what is examined.

:func:`encode` is the inverse for what mcpwrap writes itself: standard JSON only (``allow_nan=False``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .._errors import ProtocolError
from .._message import Message, Verdict
from .._protocol import (
    BLOCKED,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    MAX_DEPTH,
    META_PROTOCOL_VERSION,
    METHOD_NOT_FOUND,
    MODERN_PROTOCOL,
    PARSE_ERROR,
    SERVER_UNAVAILABLE,
)

__all__ = [
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "MAX_DEPTH",
    "METHOD_NOT_FOUND",
    "INTERNAL_ERROR",
    "SERVER_UNAVAILABLE",
    "BLOCKED",
    "decode",
    "encode",
    "recover_id",
    "answerable_id",
    "error_response",
    "block_meta",
    "blocked_request_response",
    "blocked_response_replacement",
    "annotate_modified",
]



class _DuplicateKey(ValueError):
    pass


def _pairs_hook(pairs: list) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return d


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


class _NonFinite(ValueError):
    pass


# Integers from here on round to infinity as a double (halfway between the largest double and 2**1024).
_FLOAT_OVERFLOW = 2**1024 - 2**970


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _finite_int(text: str) -> int:
    value = int(text)
    if not -_FLOAT_OVERFLOW < value < _FLOAT_OVERFLOW:
        raise _NonFinite(text if len(text) <= 24 else f"{text[:12]}…({len(text)} digits)")
    return value


_decoder = json.JSONDecoder(
    object_pairs_hook=_pairs_hook, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_finite_int
)

_TOO_DEEP = f"message nests too deeply: more than {MAX_DEPTH} levels of arrays and objects, the most mcpwrap examines"


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests more than ``limit`` arrays/objects (the top-level container is level 1)."""
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        v, d = pop()
        if d > limit:
            return True
        for child in v.values() if type(v) is dict else v:
            t = type(child)
            if t is dict or t is list:
                push((child, d + 1))
    return False


def _check_depth(line: bytes, value: Any) -> None:
    # A line with at most MAX_DEPTH brackets cannot nest deeper: two C-speed counts spare the walk on almost
    # every message (a bracket inside a string only makes the bound looser, never wrong).
    if line.count(b"[") + line.count(b"{") <= MAX_DEPTH or type(value) not in (dict, list):
        return
    if _too_deep(value):
        raise ProtocolError(_TOO_DEEP, PARSE_ERROR)


# A \u escape of a UTF-16 surrogate (D800–DFFF). A pair decodes to one code point; a lone one does not.
_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string or key inside a decoded value holds a surrogate code point (UTF-8 cannot encode it)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str:
            if not v.isascii() and _SURROGATE.search(v):
                return True
        elif t is dict:
            stack.extend(v)
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
    return False


def decode(line: bytes) -> Any:
    """Decode one line strictly; raise :class:`ProtocolError` with the JSON-RPC code for the sender.

    Fast path: orjson (RFC 8259-strict, UTF-8-validating, ~4x the stdlib on long strings), then a duplicate-key
    check that costs a few ``bytes.count`` passes (see :func:`_no_duplicate_keys`). Anything the fast path does
    not accept or cannot vouch for goes through the stdlib decoder with a duplicate-detecting hook, which is
    the reference and gives the precise error.
    """
    if line.startswith(b"\xef\xbb\xbf"):
        raise ProtocolError("message starts with a byte-order mark", PARSE_ERROR)
    try:
        value = _orjson_loads(line)
    except Exception:  # orjson.JSONDecodeError, or anything it refuses (e.g. integers beyond 64 bits)
        pass
    else:
        # orjson refuses lone surrogates and non-finite numbers itself; it accepts 1024 levels of nesting.
        if _no_duplicate_keys(line, value):
            _check_depth(line, value)
            return value
    return _reference_decode(line)


_INT64_EDGE = 2.0**63  # orjson turns integer literals beyond 64 bits into floats; the stdlib keeps them exact


def _count_strings(value: Any) -> int:
    """Keys and string values in a decoded JSON value; -1 if a number may have been read differently."""
    n = 0
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is str:
            n += 1
        elif t is dict:
            n += len(v)
            push(v.values())
        elif t is list:
            push(v)
        elif t is float and abs(v) >= _INT64_EDGE:
            return -1
    return n


def _no_duplicate_keys(line: bytes, value: Any) -> bool:
    """True when ``line`` provably repeats no key (False means: ask the reference decoder).

    In valid JSON every unescaped ``"`` delimits a string, so the raw text holds (unescaped quotes) / 2
    strings. A decoder that collapses a repeated key drops that key (and its first value) from the result, so
    the decoded value holds fewer strings than the text exactly when a key was repeated. Escaped quotes are
    ``\\"``; that count is exact only when the line holds no escaped backslash, else we do not vouch.
    """
    if line.find(b"\\") < 0:  # one memchr: most messages hold no escape at all
        escaped = 0
    elif line.find(b"\\\\") >= 0:
        return False
    else:
        escaped = line.count(b'\\"')
    strings = _count_strings(value)
    return strings >= 0 and line.count(b'"') - escaped == 2 * strings


def _reference_decode(line: bytes) -> Any:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"message is not valid UTF-8 (byte {exc.start})", PARSE_ERROR) from None
    try:
        value = _decoder.decode(text)
    except _DuplicateKey as exc:
        raise ProtocolError(f"ambiguous message: key {exc.args[0]!r} appears twice in one object", INVALID_REQUEST) from None
    except _NonFinite as exc:
        raise ProtocolError(f"message holds the number {exc.args[0]}, which is not finite (peers read it as infinity)", PARSE_ERROR) from None
    except RecursionError:
        raise ProtocolError(_TOO_DEEP, PARSE_ERROR) from None
    except ValueError as exc:
        raise ProtocolError(f"message is not valid JSON ({exc})", PARSE_ERROR) from None
    if _SURROGATE_ESCAPE.search(line) is not None and has_lone_surrogate(value):
        raise ProtocolError("message holds a lone UTF-16 surrogate escape (\\uD800–\\uDFFF unpaired): not a character", PARSE_ERROR)
    _check_depth(line, value)
    return value


from orjson import dumps as _orjson_dumps  # noqa: E402
from orjson import loads as _orjson_loads  # noqa: E402  (after the reference decoder it is checked against)


def check_envelope(value: Any) -> None:
    """Raise :class:`ProtocolError` unless ``value`` is a JSON-RPC 2.0 message object."""
    if not isinstance(value, dict):
        raise ProtocolError(f"a JSON-RPC message must be an object, not {type(value).__name__}", INVALID_REQUEST)
    if value.get("jsonrpc") != "2.0":
        raise ProtocolError('"jsonrpc" must be "2.0"', INVALID_REQUEST)
    method = value.get("method")
    has_id = "id" in value
    if has_id:
        mid = value["id"]
        if isinstance(mid, bool) or not isinstance(mid, (str, int)):
            raise ProtocolError("an id must be a string or an integer", INVALID_REQUEST)
    if method is not None:
        if not isinstance(method, str):
            raise ProtocolError('"method" must be a string', INVALID_REQUEST)
        if "result" in value or "error" in value:
            raise ProtocolError("a message cannot be both a request and a response", INVALID_REQUEST)
        params = value.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            raise ProtocolError('"params" must be an object or an array', INVALID_REQUEST)
        return
    if not has_id:
        raise ProtocolError("a message without a method must carry an id (it is a response)", INVALID_REQUEST)
    if ("result" in value) == ("error" in value):
        raise ProtocolError("a response carries exactly one of result and error", INVALID_REQUEST)


def encode(envelope: Any) -> bytes:
    """Serialise a message mcpwrap writes itself: compact, UTF-8, one line, standard JSON only (a NaN or an
    infinity raises instead of becoming a token a peer cannot parse).

    The bytes are those of ``json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))``, produced by
    orjson (~10x faster on a redacted 200 KB result) when they are certainly the same: the value holds no float
    (orjson spells some differently, ``6.103515625e-05`` as ``0.00006103515625``, and writes NaN as null where
    this must raise) and orjson accepts it (not an integer beyond 64 bits, a non-string key, a lone
    surrogate). Anything else takes the stdlib's path, as before.
    """
    if not _has_float(envelope):
        try:
            return _orjson_dumps(envelope) + b"\n"
        except TypeError:
            pass
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"


def _has_float(value: Any) -> bool:
    """Whether a JSON value holds a float anywhere (a walk over its containers: strings are not read)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, float):
            return True
    return False


# --- id recovery from lines that cannot be decoded -------------------------------------------------------------

_ID_TAIL = re.compile(rb',\s*"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\\r\n]|\\.){0,200}")\s*\}\s*$')
_SCAN_LIMIT = 64 * 1024


def _scan_head_for_id(head: bytes) -> Any:
    """Walk the start of a line as JSON tokens, tracking depth; return the top-level id if it is seen."""
    depth = 0
    i = 0
    n = len(head)
    key: bytes | None = None  # the top-level key whose value comes next
    expect_key = False
    while i < n:
        c = head[i]
        if c == 0x22:  # a string token: find its closing quote
            j = i + 1
            while j < n and head[j] != 0x22:
                j += 2 if head[j] == 0x5C else 1
            if j >= n:
                return None
            token = head[i : j + 1]
            if depth == 1 and expect_key:
                key, expect_key = token, False
            elif depth == 1 and key == b'"id"':
                return json.loads(token)
            i = j + 1
            continue
        if c == 0x7B or c == 0x5B:
            depth += 1
            expect_key = depth == 1 and c == 0x7B
        elif c == 0x7D or c == 0x5D:
            depth -= 1
        elif c == 0x2C and depth == 1:
            expect_key, key = True, None
        elif depth == 1 and key == b'"id"' and (c == 0x2D or 0x30 <= c <= 0x39):
            j = i + 1
            while j < n and 0x30 <= head[j] <= 0x39:
                j += 1
            return int(head[i:j])
        i += 1
    return None


def recover_id(line: bytes) -> Any:
    """Best effort: the top-level ``id`` of a line that could not be decoded, or None.

    Looks at the first 64 KiB with a depth-tracking tokenizer, then at the end of the line (TypeScript
    peers write ``"id"`` last). Used only to *answer* a refused message, never to forward one.
    """
    try:
        found = _scan_head_for_id(line[:_SCAN_LIMIT])
    except ValueError:
        found = None
    if _answerable_id(found):
        return found
    m = _ID_TAIL.search(line[-512:])
    if m:
        try:
            value = json.loads(m.group(1))
        except ValueError:
            return None
        if _answerable_id(value):
            return value
    return None


def _answerable_id(value: Any) -> bool:
    """An id mcpwrap can write back: a string without lone surrogates, or an integer a double holds."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return not _SURROGATE.search(value)
    return isinstance(value, int) and -_FLOAT_OVERFLOW < value < _FLOAT_OVERFLOW


def answerable_id(value: Any) -> Any:
    """The id to answer a refused request under, or None when there is none to write back. An integral number
    written with a fraction or exponent (``20.0``, ``1e2``) is the integer a JavaScript or Python peer reads, so
    its sender can still match the answer; other non-integer ids cannot be matched and get no id."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if _answerable_id(value) else None


def looks_like_request(line: bytes) -> bool:
    """Whether a refused line names a method near its top (so its sender awaits an answer)."""
    head = line[:_SCAN_LIMIT]
    return b'"method"' in head or b'"method"' in line[-4096:]


# --- responses mcpwrap writes -----------------------------------------------------------------------------------


def error_response(msg_id: Any, code: int, message: str, data: Any = None) -> dict:
    err: dict = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": err}


_WITHHELD_WORDS = ("excerpt", "features")  # parts of a detection that quote the withheld text


def block_meta(verdict: Verdict) -> dict:
    meta: dict[str, Any] = {
        "action": "block",
        "reason": verdict.reason,
        "rule": verdict.rule,
        "interceptor": verdict.interceptor,
    }
    if verdict.retry_after is not None:
        meta["retryAfter"] = round(verdict.retry_after, 3)
    detection = verdict.details.get("detection") if isinstance(verdict.details, dict) else None
    if isinstance(detection, dict):
        # Why a detector withheld it (tier, scores, thresholds, where, signal names) — never the excerpt nor the
        # learned tier's features (words of the text): the withheld text must not reach the model through its own
        # explanation. Both stay in the audit record.
        meta["detection"] = {
            k: ({kk: vv for kk, vv in v.items() if kk not in _WITHHELD_WORDS} if isinstance(v, dict) else v)
            for k, v in detection.items()
            if k not in _WITHHELD_WORDS
        }
    return meta


def _is_modern(request_params: Any, session_version: str | None) -> bool:
    version = None
    if isinstance(request_params, dict):
        meta = request_params.get("_meta")
        if isinstance(meta, dict):
            version = meta.get(META_PROTOCOL_VERSION)
    version = version or session_version
    return isinstance(version, str) and version >= MODERN_PROTOCOL


def _tool_error_result(msg_id: Any, verdict: Verdict, request_params: Any, session_version: str | None) -> dict:
    text = verdict.reason or "blocked by mcpwrap"
    if verdict.retry_after is not None:
        text += f" (retry after {verdict.retry_after:.1f} s)"
    result: dict = {
        "content": [{"type": "text", "text": f"mcpwrap blocked this: {text}"}],
        "isError": True,
        "_meta": {"mcpwrap": block_meta(verdict)},
    }
    if _is_modern(request_params, session_version):
        result["resultType"] = "complete"
    return {"jsonrpc": "2.0", "id": msg_id, "result": result}


def blocked_request_response(msg: Message, verdict: Verdict) -> dict:
    """The answer to a request mcpwrap refused to forward."""
    if msg.method == "tools/call":
        return _tool_error_result(msg.id, verdict, msg.params, msg.session.protocol_version)
    return error_response(msg.id, BLOCKED, f"mcpwrap blocked this request: {verdict.reason}", {"mcpwrap": block_meta(verdict)})


def blocked_response_replacement(msg: Message, verdict: Verdict) -> dict:
    """What the waiting side receives instead of a response mcpwrap withheld."""
    req = msg.request
    if req is not None and req.method == "tools/call":
        return _tool_error_result(msg.id, verdict, req.params, msg.session.protocol_version)
    return error_response(msg.id, BLOCKED, f"mcpwrap withheld this response: {verdict.reason}", {"mcpwrap": block_meta(verdict)})


def annotate_modified(msg: Message) -> dict:
    """The envelope to forward for a modified message, with ``_meta.mcpwrap`` saying what changed."""
    env = msg.envelope
    note = {"action": "modify", "changes": msg.changes}
    if "result" in env and isinstance(env["result"], dict):
        target = env["result"]
    elif "params" in env and isinstance(env["params"], dict):
        target = env["params"]
    elif "error" in env and isinstance(env["error"], dict):
        data = env["error"].get("data")
        if data is None:
            env["error"]["data"] = {"mcpwrap": note}
        return env
    else:
        return env
    meta = target.get("_meta")
    if not isinstance(meta, dict):
        meta = {}
        target["_meta"] = meta
    meta["mcpwrap"] = note
    return env
