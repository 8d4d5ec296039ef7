"""Secret and PII detection in decoded strings, and redaction that keeps JSON valid.

Design
- One pass: every detector's pattern is joined into a single alternation compiled with RE2 (linear time) and
  run once over the UTF-8 bytes of a string. Each candidate span is then confirmed in Python by the detector
  whose pattern matches it *and* whose validator accepts it (Luhn for cards, mod-97 for IBANs, SSN validity
  rules, a decodable JWT header, entropy and character classes for keys, digit counts for phone numbers).
  Patterns carry no look-around, so word boundaries are checked by the validators on the bytes around a span.
- A detector's ``value`` group, when present, is the part that is secret (``password=<value>``): only that is
  replaced, so the surrounding text still reads.
- Redaction replaces the secret inside the string value with ``[REDACTED:<type>]``. Strings are decoded
  values, so the result is re-encoded by the relay and stays valid JSON and valid MCP.
- Nothing here ever returns a secret: findings carry the type, the JSON path and the span, and
  :func:`redact_json` returns the redacted copy and counts per type only.

Types: ``email``, ``phone``, ``payment_card``, ``us_ssn``, ``iban``, ``private_key``, ``aws_access_key``,
``aws_secret_key``, ``github_token``, ``gitlab_token``, ``slack_token``, ``stripe_key``, ``openai_key``,
``anthropic_key``, ``google_api_key``, ``jwt``, ``basic_auth``, ``password_assignment``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .._re2 import compile_bytes, search_span, utf8
from .._strings import map_strings
from . import prefilter

__all__ = [
    "SECRET_TYPES",
    "PII_TYPES",
    "ALL_TYPES",
    "Finding",
    "scan_text",
    "redact_text",
    "apply_findings",
    "redact_json",
    "placeholder",
]

from . import ALL_TYPES, PII_TYPES, SECRET_TYPES  # noqa: E402  (re-exported)

MIN_CANDIDATE_CHARS = 6  # shorter strings cannot hold any detector's shortest match


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


_REDACTED_B = b"[REDACTED:"


@dataclass(slots=True)
class Finding:
    kind: str
    start: int  # byte offsets into the UTF-8 encoding of the string
    end: int


# --- validators -------------------------------------------------------------------------------------------------


def _word_char(b: int) -> bool:
    return b == 95 or 48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122


def _bounded(buf: bytes, start: int, end: int) -> bool:
    """No letter/digit/underscore glued to either side of the span."""
    return not (start > 0 and _word_char(buf[start - 1])) and not (end < len(buf) and _word_char(buf[end]))


def _entropy(s: bytes) -> float:
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _classes(s: bytes) -> int:
    return sum(
        (
            any(97 <= b <= 122 for b in s),
            any(65 <= b <= 90 for b in s),
            any(48 <= b <= 57 for b in s),
            any(not (_word_char(b)) for b in s),
        )
    )


def _random_token(s: bytes, min_entropy: float = 3.0) -> bool:
    """Looks machine-generated: high entropy and at least two of lower case, upper case, digits."""
    kinds = any(97 <= b <= 122 for b in s) + any(65 <= b <= 90 for b in s) + any(48 <= b <= 57 for b in s)
    return kinds >= 2 and _entropy(s) >= min_entropy


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand_ok(d: str) -> bool:
    n = len(d)
    if d[0] == "4":
        return n in (16, 19)  # 13-digit Visa numbers are no longer issued; 13-digit ids are everywhere
    p2, p4 = int(d[:2]), int(d[:4])
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if d.startswith("6011") or p2 == 65 or 644 <= int(d[:3]) <= 649 or 622126 <= int(d[:6]) <= 622925:
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if p2 in (36, 38, 39) or 300 <= int(d[:3]) <= 305:
        return 14 <= n <= 19
    return False


def _v_card(buf: bytes, s: int, e: int) -> bool:
    if not _bounded(buf, s, e):
        return False
    raw = buf[s:e].decode()
    seps = {c for c in raw if not c.isdigit()}
    if len(seps) > 1:
        return False
    if seps:  # grouped: 4-4-4-4, 4-6-5 (Amex), 4-4-4-4-3
        groups = [len(g) for g in re.split(r"[ -]", raw)]
        if groups not in ([4, 4, 4, 4], [4, 6, 5], [4, 6, 4], [4, 4, 4, 4, 3], [4, 4, 4, 1]):
            return False
    digits = re.sub(r"\D", "", raw)
    if len(set(digits)) < 2:
        return False
    return _card_brand_ok(digits) and _luhn(digits)


def _v_ssn(buf: bytes, s: int, e: int) -> bool:
    if not _bounded(buf, s, e):
        return False
    # A dashed triple inside a longer dashed run (1-800-555-..., version strings) is something else.
    if (s > 0 and buf[s - 1] in b"-./") or (e < len(buf) and buf[e] in b"-./"):
        return False
    area, group, serial = buf[s:e].decode().replace(" ", "-").split("-")
    a = int(area)
    if a == 0 or a == 666 or a >= 900 or int(group) == 0 or int(serial) == 0:
        return False
    return buf[s:e] not in (b"078-05-1120", b"219-09-9999", b"123-45-6789")


_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def _v_iban(buf: bytes, s: int, e: int) -> bool:
    if not _bounded(buf, s, e):
        return False
    raw = buf[s:e].decode().replace(" ", "")
    if _IBAN_LENGTHS.get(raw[:2]) != len(raw):
        return False
    moved = raw[4:] + raw[:4]
    num = "".join(str(int(c, 36)) for c in moved)
    return int(num) % 97 == 1


_DATEISH = re.compile(rb"(?:19|20)\d\d[-./]\d\d[-./]\d\d|\d\d:\d\d(?::\d\d)?")


def _v_phone(buf: bytes, s: int, e: int) -> bool:
    if not _bounded(buf, s, e) and buf[s] != 0x2B and buf[s] != 0x28:
        return False
    if e < len(buf) and _word_char(buf[e]):
        return False
    if s > 0 and (_word_char(buf[s - 1]) or buf[s - 1] in b"./-:"):
        return False
    raw = buf[s:e]
    if _DATEISH.search(raw):
        return False
    digits = sum(1 for b in raw if 48 <= b <= 57)
    if s > 0 and buf[s - 1] in b"+~":  # version strings such as 1:12~++20210127035054
        return False
    if raw.startswith(b"+"):
        separated = b" " in raw or b"-" in raw or b"." in raw or b"(" in raw
        return 8 <= digits <= 15 if separated else 10 <= digits <= 13
    # National formats: (555) 123-4567, 555-123-4567, 555.123.4567 — exactly 10 digits, grouped 3-3-4.
    return digits == 10 and raw.count(b".") in (0, 2)


_EMAIL_TLD_BLOCK = frozenset({b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"py", b"js", b"ts", b"css", b"lock"})


def _v_email(buf: bytes, s: int, e: int) -> bool:
    local, _, domain = buf[s:e].partition(b"@")
    if not local or local.startswith(b".") or local.endswith(b".") or b".." in local:
        return False
    tld = domain.rsplit(b".", 1)[-1].lower()
    if tld in _EMAIL_TLD_BLOCK or tld.isdigit():  # asset@2x.png, pkg@1.2.3
        return False
    return not (s > 0 and buf[s - 1] in b"/:")  # user@host inside URLs is a credential slot, not an address


def _v_token(min_entropy: float = 3.0) -> Callable[[bytes, int, int], bool]:
    def check(buf: bytes, s: int, e: int) -> bool:
        return _bounded(buf, s, e) and _random_token(buf[s:e], min_entropy)

    return check


def _v_prefixed(prefix_len: int, min_entropy: float = 3.0) -> Callable[[bytes, int, int], bool]:
    def check(buf: bytes, s: int, e: int) -> bool:
        return _bounded(buf, s, e) and _random_token(buf[s + prefix_len : e], min_entropy)

    return check


def _v_jwt(buf: bytes, s: int, e: int) -> bool:
    if not _bounded(buf, s, e):
        return False
    header = buf[s:e].split(b".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + b"=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and ("alg" in decoded or "typ" in decoded)


_PLACEHOLDER_VALUE = re.compile(
    rb"^(?:\$\{?|%\(|\{\{|<|\*{3,}|x{4,}|\.\.\.|os\.|env\.|process\.env|getenv|none$|null$|true$|false$|undefined$|"
    rb"your[_-]|my[_-]|example|changeme|placeholder|redacted|\[redacted)",
    re.I,
)
_IDENTIFIER_VALUE = re.compile(rb"^[A-Za-z_][A-Za-z_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(.*)?$")


def _v_assignment(buf: bytes, s: int, e: int) -> bool:
    value = buf[s:e].strip(b"\"'`")
    # Quoted: the value must be the whole quoted string ('Password used to generate the key' is prose).
    quoted = s > 0 and buf[s - 1] in b"\"'`" and e < len(buf) and buf[e] in b"\"'`\\"
    if len(value) < 8 or _PLACEHOLDER_VALUE.match(value):
        return False
    if not quoted and _IDENTIFIER_VALUE.match(value):  # password = other_variable
        return False
    if value.startswith(_REDACTED_B):
        return False
    if any(c in value for c in b"()[]{}") or value.endswith(b":"):  # code (calls, indexing), not a literal
        return False
    if not any(48 <= b <= 57 or 65 <= b <= 90 or (not _word_char(b) and b not in b"-_.") for b in value):
        return False  # lower-case words joined by - _ . ("it-is-very-secret") are names and examples, not keys
    if _entropy(value) < min(3.0, 0.8 * math.log2(len(value))) or _classes(value) < 2:
        return False
    # A quoted literal may be letters only ("lnggPAQGSLsQ"); a bare word needs a digit or a symbol.
    return quoted or any(48 <= b <= 57 or not _word_char(b) for b in value)


def _v_aws_secret(buf: bytes, s: int, e: int) -> bool:
    value = buf[s:e]
    return len(value) == 40 and _bounded(buf, s, e) and _entropy(value) >= 4.0 and _classes(value) >= 3


def _v_aws_id(buf: bytes, s: int, e: int) -> bool:
    # Key ids are base32 (A–Z, 2–7): one character class, so only the entropy of the random part counts.
    return _bounded(buf, s, e) and _entropy(buf[s + 4 : e]) >= 3.0


def _v_any(buf: bytes, s: int, e: int) -> bool:
    return True


def _v_basic_auth(buf: bytes, s: int, e: int) -> bool:
    """base64 of ``user:password`` (printable, both parts non-empty): Docker's ``auths.*.auth``, npm's ``_auth``,
    an HTTP ``Basic`` credential."""
    if e < len(buf) and (_word_char(buf[e]) or buf[e] in b"+/="):
        return False
    value = buf[s:e]
    try:
        decoded = base64.b64decode(value + b"=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (ValueError, binascii.Error):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep and user and password) and decoded.isprintable() and " " not in user


# --- detectors --------------------------------------------------------------------------------------------------

_ASSIGN_KEYS = (
    r"(?:password|passwd|passphrase|pwd|secret|secret[_-]?key|client[_-]?secret|api[_-]?key|apikey|"
    r"access[_-]?key|access[_-]?token|auth[_-]?token|bearer|private[_-]?key|token|credentials?)"
)

# (type, pattern, value group name or None, validator). Order matters where two patterns can match the same
# span: the more specific detector comes first.
_DETECTORS: list[tuple[str, str, str | None, Callable[[bytes, int, int], bool]]] = [
    (
        "private_key",
        # A header alone is code that builds or checks PEM text; a key has a body (40+ base64 characters).
        # (Inside JSON text the line breaks are written as \\n, so those count as whitespace too.)
        # The armour in any case: "-----begin rsa private key-----" holds the same key for a reader who retypes it.
        r"(?i:-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)(?:\s|\\[rn])*(?:[A-Za-z0-9\-]+:[^\n\\]*(?:\n|\\n))*(?:\s|\\[rn])*"
        r"[A-Za-z0-9+/=]{40,}(?:[A-Za-z0-9+/=\s:,\-]|\\[rn])*",
        None,
        _v_any,
    ),
    ("aws_access_key", r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}", None, _v_aws_id),
    (
        "aws_secret_key",
        r"(?i:aws)[A-Za-z0-9_ .\-]{0,20}(?i:secret|sk)[A-Za-z0-9_ .\-]{0,20}[\"']?\s*[:=]>?\s*[\"']?(?P<value>[A-Za-z0-9/+]{40})",
        "value",
        _v_aws_secret,
    ),
    ("github_token", r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{50,255}", None, _v_prefixed(4)),
    ("gitlab_token", r"(?:glpat|gldt|glrt|glptt|glft|glsoat|glcbt)-[A-Za-z0-9_\-]{20,64}", None, _v_prefixed(6, 2.8)),
    (
        "slack_token",
        r"xox[abposre]-[A-Za-z0-9\-]{10,250}|https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_\-]{20,200}",
        None,
        _v_any,
    ),
    ("stripe_key", r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,255}|whsec_[A-Za-z0-9]{24,64}", None, _v_prefixed(8)),
    ("anthropic_key", r"sk-ant-[a-z]{2,8}[0-9]{0,3}-[A-Za-z0-9_\-]{20,200}", None, _v_prefixed(7)),
    ("openai_key", r"sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,200}", None, _v_prefixed(3, 3.5)),
    ("google_api_key", r"AIza[0-9A-Za-z_\-]{35}|ya29\.[0-9A-Za-z_\-]{30,500}", None, _v_prefixed(4)),
    ("jwt", r"eyJ[A-Za-z0-9_\-]{8,2000}\.eyJ[A-Za-z0-9_\-]{8,8000}\.[A-Za-z0-9_\-]{8,2000}", None, _v_jwt),
    (
        "basic_auth",
        # base64 user:password where credential files keep it: Docker's config.json ("auth": "…"), npm's .npmrc
        # (_auth=…), an Authorization header (Basic …).
        r"(?:(?i:_?auth)[\"']?\s{0,3}[:=]\s{0,3}[\"']?|(?i:basic)\s{1,3})(?P<value>[A-Za-z0-9+/]{8,1024}={0,2})",
        "value",
        _v_basic_auth,
    ),
    (
        "password_assignment",
        r"(?i:" + _ASSIGN_KEYS + r")[\"'`]?\s{0,3}(?::=|=>|[:=])\s{0,3}[\"'`]?(?P<value>[^\s\"'`,;<>]{8,200})",
        "value",
        _v_assignment,
    ),
    ("us_ssn", r"[0-9]{3}-[0-9]{2}-[0-9]{4}", None, _v_ssn),
    ("payment_card", r"[0-9]{4}[ \-]?[0-9]{4,6}[ \-]?[0-9]{4,5}(?:[ \-]?[0-9]{1,4}){0,2}", None, _v_card),
    ("iban", r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?", None, _v_iban),
    (
        "phone",
        r"\+[0-9]{1,3}(?:[ .\-]?\(?[0-9]{1,4}\)?){2,5}|\([0-9]{3}\) ?[0-9]{3}[\-. ][0-9]{4}|[0-9]{3}[\-.][0-9]{3}[\-.][0-9]{4}",
        None,
        _v_phone,
    ),
    ("email", r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}", None, _v_email),
]

_PY_FLAGS = 0


def _py(pattern: str) -> re.Pattern[bytes]:
    # The confirming pass runs on short candidate spans only, so Python's engine is fine there and gives
    # named groups; the scan over the whole text uses the combined RE2 pattern.
    return re.compile(pattern.encode())


_COMPILED = [(kind, _py(p), group, check) for kind, p, group, check in _DETECTORS]
_KIND_INDEX = {kind: i for i, (kind, *_rest) in enumerate(_DETECTORS)}


def _prefilter_form(kind: str, pattern: str) -> str:
    """The pattern used to find candidates: a superset that keeps RE2's DFA small.

    Named groups go; bounded repetitions ``{a,b}`` become ``{a,}`` (counting to b multiplies DFA states, and
    the exact pattern is applied afterwards anyway); an address is found by its ``@`` and the characters on
    either side, and its local part is recovered when it is confirmed.
    """
    if kind == "email":
        return r"[A-Za-z0-9._%+\-]@[A-Za-z0-9\-]"
    if kind == "phone":
        # International numbers have 8+ digits: "+0100" in every changelog date line is not a candidate.
        return r"\+[0-9](?:[ .\-]?\(?[0-9]\)?){7,}|\([0-9]{3}\) ?[0-9]{3}[\-. ][0-9]{4}|[0-9]{3}[\-.][0-9]{3}[\-.][0-9]{4}"
    pattern = re.sub(r"[(][?]P<[a-z]+>", "(?:", pattern)
    return re.sub(r"\{(\d+),\d+\}", r"{\1,}", pattern)


CANDIDATE_PATTERN = "|".join(f"(?:{_prefilter_form(k, p)})" for k, p, _g, _c in _DETECTORS)
_COMBINED = compile_bytes(CANDIDATE_PATTERN)
prefilter.register("secrets", CANDIDATE_PATTERN)
_LOCAL_PART = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_CONTEXT = 64  # bytes before a candidate that a context pattern (aws … secret = …) may need


_DIGIT_KINDS = frozenset({"us_ssn", "payment_card", "phone"})
_PREFIX_KINDS = (
    (b"-----", ("private_key",)),
    (b"_auth", ("basic_auth",)),
    (b"github_pat_", ("github_token",)),
    (b"gh", ("github_token", "password_assignment", "email")),
    (b"gl", ("gitlab_token", "email")),
    (b"xox", ("slack_token", "email")),
    (b"https://hooks.slack", ("slack_token",)),
    (b"sk-ant-", ("anthropic_key",)),
    (b"sk-", ("openai_key",)),
    (b"sk_", ("stripe_key",)),
    (b"rk_", ("stripe_key",)),
    (b"pk_", ("stripe_key",)),
    (b"whsec_", ("stripe_key",)),
    (b"AIza", ("google_api_key", "email")),
    (b"ya29.", ("google_api_key",)),
    (b"eyJ", ("jwt", "email")),
)
_LETTER_KINDS = ("aws_access_key", "aws_secret_key", "basic_auth", "password_assignment", "iban", "email")
_BY_KIND: dict[str, Any] = {kind: entry for kind, *entry in _COMPILED}
_EMAIL_RX = _BY_KIND["email"][0]


def _candidate_kinds(buf: bytes, start: int) -> tuple[str, ...] | frozenset[str]:
    """The detectors whose pattern can start with the bytes at ``start`` (saves trying all of them)."""
    c = buf[start]
    if 48 <= c <= 57 or c == 0x2B or c == 0x28:  # digit, "+", "("
        return _DIGIT_KINDS if c != 0x2B and c != 0x28 else ("phone",)
    head = buf[start : start + 19]
    for prefix, kinds in _PREFIX_KINDS:
        if head.startswith(prefix):
            return kinds
    return _LETTER_KINDS


def _confirm(buf: bytes, start: int, end: int, kinds: frozenset[str] | None) -> tuple[str, int, int] | None:
    """Which detector accepts the candidate at ``start``; returns the type and the span to replace."""
    plausible = _candidate_kinds(buf, start)
    if plausible is _LETTER_KINDS and b"@" in buf[start:end] and (kinds is None or "email" in kinds):
        # Most candidates with an "@" are addresses: try that detector first (it is last in the list).
        rx, _group, check = _BY_KIND["email"]
        m = rx.match(buf, start, min(len(buf), start + 512))
        if m is not None and check(buf, m.start(), m.end()):
            return "email", m.start(), m.end()
    for kind, rx, group, check in _COMPILED:
        if kind not in plausible:
            continue
        if kinds is not None and kind not in kinds:
            continue
        m = rx.match(buf, start, max(end, min(len(buf), start + 16384)))
        if m is None:
            continue
        s, e = m.span(group) if group else m.span()
        if s < 0:
            continue
        if check(buf, s, e):
            if kind == "password_assignment":
                # The assigned value may itself be a recognisable token: name it by what it is.
                inner = _confirm(buf, s, e, frozenset(k for k in (kinds or _KIND_INDEX) if k != kind))
                if inner is not None and inner[1] == s and inner[2] == e:
                    return inner
            return kind, s, e
    return None


def scan_bytes(buf: bytes, kinds: frozenset[str] | None = None) -> list[Finding]:
    """Findings in one UTF-8 string (byte offsets), non-overlapping, in order."""
    out: list[Finding] = []
    n = len(buf)
    if n < prefilter.MIN_SHARED_BYTES:
        spans: list[tuple[int, int]] = [(0, n)]
        overhang = 0
    else:
        # A large text: only the windows of the pass shared with the injection detector can hold a candidate
        # start (see mcpwrap.detect.prefilter); the search runs past a window's end by the overhang only.
        spans = prefilter.windows(buf)
        overhang = prefilter.OVERHANG
    pos = 0  # where the text is still unexplained: an address's local part may reach back to it
    for ws, we in spans:
        limit = min(n, we + overhang)
        while pos < limit:
            span = search_span(_COMBINED, buf, max(pos, ws), limit) if max(pos, ws) <= limit else None
            if span is None:
                break
            start, end = span
            if start >= we and we < n:
                break  # the next window (or none) holds the next candidate
            if end - start == 3 and buf[start + 1] == 0x40:  # "x@y": an address candidate, found by its "@"
                at = start + 1
                floor = max(pos, at - 64)
                while start > floor and buf[start - 1] in _LOCAL_PART:
                    start -= 1
                while start < at and not (48 <= buf[start] <= 57 or 65 <= buf[start] <= 90 or 97 <= buf[start] <= 122):
                    start += 1  # the local part begins with a letter or digit
                if kinds is None or "email" in kinds:
                    em = _EMAIL_RX.match(buf, start, min(n, at + 256))
                    if em is not None and em.end() > at + 1 and _v_email(buf, em.start(), em.end()):
                        out.append(Finding("email", em.start(), em.end()))
                        pos = em.end()
                        continue
                if kinds is not None and kinds <= {"email"}:
                    pos = end
                    continue
            hit = _confirm(buf, start, end, kinds)
            if hit is None:
                # Not confirmed: try again just after this start (another detector's match may begin inside the
                # span), but skip the rest of a digit run — every suffix of a long number is a candidate too.
                pos = start + 1
                while pos < end and 48 <= buf[pos] <= 57 and 48 <= buf[pos - 1] <= 57:
                    pos += 1
                continue
            kind, s, e = hit
            out.append(Finding(kind, s, e))
            pos = max(e, start + 1)
    return out


def scan_text(text: str, kinds: Iterable[str] | None = None) -> list[Finding]:
    """Findings in a decoded string. Offsets are into ``text.encode('utf-8')``."""
    if len(text) < MIN_CANDIDATE_CHARS:
        return []
    return scan_bytes(utf8(text), frozenset(kinds) if kinds is not None else None)


def apply_findings(text: str, findings: list[Finding], kinds: Iterable[str] | None = None, counts: Counter | None = None) -> str:
    """``text`` with the given findings (from :func:`scan_text` on the same text) replaced, optionally only
    those of ``kinds``: redaction without scanning a second time."""
    wanted = None if kinds is None else frozenset(kinds)
    chosen = [f for f in findings if wanted is None or f.kind in wanted]
    if not chosen:
        return text
    buf = utf8(text)
    parts: list[bytes] = []
    last = 0
    for f in chosen:
        parts.append(buf[last : f.start])
        parts.append(placeholder(f.kind).encode())
        last = f.end
        if counts is not None:
            counts[f.kind] += 1
    parts.append(buf[last:])
    return b"".join(parts).decode("utf-8", "surrogatepass")


def redact_text(text: str, kinds: Iterable[str] | None = None, counts: Counter | None = None) -> str:
    """``text`` with every finding replaced by ``[REDACTED:<type>]``; counts per type added to ``counts``."""
    if len(text) < MIN_CANDIDATE_CHARS:
        return text
    findings = scan_bytes(utf8(text), frozenset(kinds) if kinds is not None else None)
    return apply_findings(text, findings, None, counts)


def redact_json(value: Any, settings: Any = None) -> tuple[Any, dict[str, int]]:
    """A copy of any JSON value with every detected secret/PII in its strings replaced; counts per type.

    ``settings`` may be the ``secrets`` policy section (its redacting detectors are used), an iterable of
    type names, or None (every detector). Binary ``data``/``blob`` fields are left as they are. Object keys
    are redacted too (a key is a string a reader sees). Never returns a removed value.
    """
    if settings is None:
        kinds = None
    elif hasattr(settings, "redacting_types"):
        kinds = frozenset(settings.redacting_types())
    else:
        kinds = frozenset(settings)
    counts: Counter = Counter()

    def fn(_path: tuple, s: str) -> str | None:
        new = redact_text(s, kinds, counts)
        return None if new is s else new

    new_value = _redact_keys(map_strings(value, fn), kinds, counts)
    return new_value, dict(counts)


def _redact_keys(value: Any, kinds: frozenset[str] | None, counts: Counter) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            nk = redact_text(k, kinds, counts) if isinstance(k, str) else k
            out[nk] = _redact_keys(v, kinds, counts)
        return out
    if isinstance(value, list):
        return [_redact_keys(v, kinds, counts) for v in value]
    return value
