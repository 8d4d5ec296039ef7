"""Host names and addresses as a resolver reads them, so that a rule about a host matches every spelling of it.

A URL parser or ``getaddrinfo`` accepts many spellings of one address; a rule written for one of them must
catch them all (``169.254.169.254`` is also ``2852039166``, ``0xA9FEA9FE``, ``0251.0376.0251.0376``,
``169.254.43518``, ``[::ffff:a9fe:a9fe]``, ``169.254.169.254.``, ``１６９.２５４.１６９.２５４``). Canonical
forms:

- IPv4 in every form ``inet_aton`` accepts (one to four parts, each decimal, octal with a leading ``0`` or
  hexadecimal with ``0x``; the last part fills the remaining bytes) → dotted quad;
- IPv6 → compressed lower case; an IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``) or
  NAT64 (``64:ff9b::a.b.c.d``) address → the IPv4 address it reaches;
- names → NFKC, the dots IDNA treats as dots (``。``, ``．``, ``｡``) as ``.``, lower case, trailing dots removed,
  IDNA (punycode) for non-ASCII labels; a name that is then an IPv4 address in any form is that address;
- names whose address is known without DNS → that address: the clouds' metadata aliases (``metadata``,
  ``instance-data``…) and wildcard-DNS services that answer with the address written into the name
  (``169-254-169-254.sslip.io``, ``a9fea9fe.nip.io``). Any other name may resolve anywhere: the sandbox's
  ``network: hosts`` mode, not a policy rule, is what decides where a server may connect.

WHATWG URL parsers (Node's ``fetch``, browsers) delete ASCII tab and newline anywhere in a URL before parsing:
a value holding them is also read with them removed.

:func:`host_readings` finds the hosts in a value — a bare host, a URL, or URLs inside free text such as a
shell command — and returns the value again with each host replaced by its canonical form (userinfo, which
only disguises the host, is dropped from that reading). Only linear-time scanning: no regex backtracks here.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any

__all__ = ["canonical_host", "host_readings"]

MAX_HOST_CHARS = 253  # the longest DNS name; longer "hosts" are not hosts
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
MAX_SCANNED_CHARS = 1 << 20  # host readings are for arguments, not documents: longer values get none
# A token: a run without whitespace, quotes, '=' (--url=…), angle brackets or backticks. One character class,
# so matching is linear.
_TOKEN = re.compile(r"[^\s\"'=<>`(),;|&]+")
# A URL's scheme and separator: "scheme://", or for the special schemes also "scheme:" with any run of / and \.
_URL_START = re.compile(r"(?:https?|wss?|ftp):[/\\]*|[A-Za-z][A-Za-z0-9+.\-]{0,31}://", re.IGNORECASE)


def _ipv4(text: str) -> str | None:
    """The dotted quad ``inet_aton`` would read ``text`` as, or None."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or any(not p for p in parts):
        return None
    values = []
    for p in parts:
        if not _IPV4_PART.fullmatch(p):
            return None
        if p[:2] in ("0x", "0X"):
            values.append(int(p[2:] or "0", 16))
        elif p.startswith("0"):
            values.append(int(p, 8))
        else:
            values.append(int(p))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for v in head:
        number = number << 8 | v
    number = number << (8 * (5 - len(values))) | last
    return str(ipaddress.IPv4Address(number))


def _ipv6(text: str) -> str | None:
    try:
        addr = ipaddress.IPv6Address(text.split("%", 1)[0])  # a zone id names an interface, not another host
    except ValueError:
        return None
    if addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    if addr in _NAT64:
        return str(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    if int(addr) >> 32 == 0 and int(addr) > 1:  # IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks)
        return str(ipaddress.IPv4Address(int(addr)))
    return addr.compressed


_IDNA_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})  # UTS 46 maps these to "."
_URL_IGNORED = str.maketrans("", "", "\t\n\r")  # WHATWG: removed from the input before a URL is parsed


def canonical_host(host: str) -> str | None:
    """The canonical form of a host (name, IPv4 in any inet_aton form, or IPv6 with or without brackets)."""
    h = unicodedata.normalize("NFKC", host).strip()
    if not h.isascii():
        h = h.translate(_IDNA_DOTS)
    if "%" in h:  # URL parsers percent-decode the host before reading it
        from urllib.parse import unquote

        h = unquote(h)
    if h.startswith("[") and h.endswith("]"):
        return _ipv6(h[1:-1])
    h = h.rstrip(".").lower()
    if not h or len(h) > MAX_HOST_CHARS:
        return None
    if ":" in h:
        return _ipv6(h)
    v4 = _ipv4(h)
    if v4 is not None:
        return v4
    known = _resolved_name(h)
    if known is not None:
        return known
    if not h.isascii():
        try:
            h = h.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return h


# Names whose address is known without asking DNS: the clouds' metadata aliases (GCE's ``metadata`` is reached
# through the search domain, AWS's ``instance-data`` inside a VPC) ...
_METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"})
# ... and wildcard-DNS services, which answer any name with the address written into it:
# 169.254.169.254.nip.io, app-169-254-169-254.sslip.io, a9fea9fe.nip.io.
_WILDCARD_DNS = (".nip.io", ".sslip.io", ".xip.io")
_HEX8 = re.compile(r"[0-9a-f]{8}")


def _resolved_name(name: str) -> str | None:
    """The address a name is known to resolve to without DNS (see above), or None."""
    if name in _METADATA_NAMES:
        return "169.254.169.254"
    suffix = next((d for d in _WILDCARD_DNS if name.endswith(d)), None)
    if suffix is None:
        return None
    labels = name[: -len(suffix)].split(".")
    if len(labels) >= 4:  # dotted: the last four labels before the service's domain
        dotted = ".".join(labels[-4:])
        if all(p.isdigit() and int(p) < 256 for p in labels[-4:]):
            return str(ipaddress.IPv4Address(dotted))
    last = labels[-1]
    dashed = last.split("-")
    if len(dashed) >= 4 and all(p.isdigit() and int(p) < 256 for p in dashed[-4:]):
        return ".".join(str(int(p)) for p in dashed[-4:])
    tail = last.rsplit("-", 1)[-1]
    if _HEX8.fullmatch(tail):
        return str(ipaddress.IPv4Address(int(tail, 16)))
    return None


def _split_authority(authority: str) -> tuple[str, str]:
    """(host, ":port" or "") of a URL authority, userinfo dropped."""
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        end = hostport.find("]")
        if end > 0:
            return hostport[: end + 1], hostport[end + 1 :]
    host, colon, port = hostport.rpartition(":")
    if colon and port.isdigit() and ":" not in host:
        return host, ":" + port
    return hostport, ""


def _bracketed(canonical: str) -> str:
    return f"[{canonical}]" if ":" in canonical else canonical


def _is_ip(canonical: str) -> bool:
    try:
        ipaddress.ip_address(canonical)
    except ValueError:
        return False
    return True


_DIGIT = re.compile(r"\d")
_AUTHORITY = re.compile(r"[^/?#\\]*")


def _token_reading(token: str, urls_only: bool) -> str | None:
    """``token`` with its host written canonically, or None when that changes nothing.

    A token is a URL (``scheme://authority…``; WHATWG parsers also take backslashes and missing slashes after
    http/https/ws/wss/ftp) or, as curl, wget and nc read their arguments, ``host[:port][/path]`` without a
    scheme — then only an IP literal counts as a host (a bare word is far more often not one).
    """
    m = _URL_START.match(token) if ":" in token else None
    if m is not None:
        start, url = m.end(), True
    elif urls_only or (_DIGIT.search(token) is None and "[" not in token):
        return None
    else:
        start, url = 0, False
    authority = _AUTHORITY.match(token, start).group(0)  # type: ignore[union-attr]  # matches the empty string
    end = start + len(authority)
    if not authority or len(authority) > 2048:
        return None
    host, port = _split_authority(authority)
    if not url and host.isdigit() and int(host) < 1 << 24:
        return None  # a plain number below 1.0.0.0 (a year, a count) is not read as an address outside a URL
    canonical = canonical_host(host)
    if canonical is None or (not url and not _is_ip(canonical)):
        return None
    head = token[: token.index(":")] + "://" if m is not None else ""
    rebuilt = head + _bracketed(canonical) + port + token[end:]
    return rebuilt if rebuilt != token else None


# A superset of the values canonicalisation could change: a URL, a digit followed by '.', ':', 'x' or 'X' (IPv4
# forms, IPv6, hex), a long digit run (one-part IPv4), '[' (bracketed IPv6), full-width digits. Most argument
# values have none of them and get no host reading after one linear scan; the others get the token pass.
_CANDIDATE_PATTERN = r"::|://|(?i:\b(?:https?|wss?|ftp):)|\d[.:xX]|\d{8}|\[|[\x{FF10}-\x{FF19}]|\d[\x{3002}\x{FF0E}\x{FF61}]"
_candidate: Any = None


def _has_candidate(value: str) -> bool:
    global _candidate
    if _candidate is None:
        from .._re2 import compile_regex

        _candidate = compile_regex(_CANDIDATE_PATTERN)
    return _candidate.search(value) is not None


def host_readings(value: str, *, urls_only: bool = False) -> list[str]:
    """``value`` with every host in it written canonically (an empty list if nothing changes).

    ``value`` may be a bare host, a URL, or free text (a shell command, a message) holding URLs or
    ``host/path`` arguments; each whitespace- or quote-separated token is read on its own. With
    ``urls_only``, only tokens with a scheme count: a bare ``1.5`` or ``12:30`` is then not read as an address
    (what an allow rule needs: every reading it gets must be one the value really has).
    """
    if len(value) > MAX_SCANNED_CHARS:
        return []
    readings = _readings(value, urls_only)
    if "\t" in value or "\n" in value or "\r" in value:
        joined = value.translate(_URL_IGNORED)  # as a WHATWG parser reads a URL split by tabs or newlines
        if _has_candidate(joined):
            for r in (joined, *_readings(joined, urls_only)):
                if r not in readings:
                    readings.append(r)
    return readings


def _readings(value: str, urls_only: bool) -> list[str]:
    if not _has_candidate(value):
        return []
    pieces: list[str] = []
    last = 0
    changed = False
    for m in _TOKEN.finditer(value):
        token = m.group(0)
        reading = _token_reading(token, urls_only)
        if reading is not None:
            pieces.append(value[last : m.start()])
            pieces.append(reading)
            last = m.end()
            changed = True
    if not changed:
        return []
    pieces.append(value[last:])
    return ["".join(pieces)]
