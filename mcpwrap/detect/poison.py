"""The poisoning scan: hidden instructions in what a server tells the model about itself.

A server's tool definitions (name, title, description, every string inside ``inputSchema``/``outputSchema``,
annotations), prompt and resource listings and its ``instructions`` all reach the model verbatim, usually
without the user ever reading them. A malicious or compromised server hides instructions there ("tool
poisoning"). This module looks for the published shapes of that attack:

=======================  ===================================================================================
rule                     fires on
=======================  ===================================================================================
invisible-characters     zero-width, bidirectional-control, Unicode *tag* characters, variation selectors
                         outside emoji — :mod:`mcpwrap._text`'s table (text the user cannot see; tag
                         characters spell hidden ASCII, which is decoded and scanned too)
terminal-escape          ANSI escape sequences and other control characters (rewrite what a terminal shows)
model-directive          imperative blocks aimed at the model: ``<IMPORTANT>``-style tags, "before using
                         this tool you must…", "ignore previous instructions", "otherwise the tool fails"
concealment              "do not tell the user", "without the user knowing", "secretly"
credential-access        credential and configuration files (``~/.ssh``, ``id_rsa``, ``.env``, ``mcp.json``,
                         cloud/CI credential files) or requests for the contents of keys/secrets
cross-tool-reference     instructions about the behaviour of *other* tools or servers
shadowing                the name of a tool that another configured server exposes (supplied by the caller)
exfiltration-parameter   a parameter the definition asks to fill with unrelated data (all notes, the
                         conversation, file contents), typically a "hidden" ``metadata``/``notes`` field
oversized-text           a single string too long to examine (never passed unexamined)
=======================  ===================================================================================

Design
- Every finding names the rule and the JSON path of the string that fired (``$.inputSchema.properties.
  metadata.description``), with a short excerpt in which invisible characters are made visible.
- Matching runs on a normalised copy of each string: NFKC, invisible characters removed, case folded,
  whitespace collapsed — so ``I\u200bMPORTANT`` or full-width letters do not slip past a pattern. Hidden
  text spelled in tag characters is decoded and matched as well.
- Patterns are plain regular expressions with bounded repetition only (no nested quantifiers), applied to
  strings of at most :data:`MAX_SCAN_CHARS`; a longer string is itself a finding. The scan is pure and
  deterministic; callers cache it by definition hash.
- Precision matters as much as recall: the scanner must stay silent on ordinary definitions (the test suite
  runs it over every definition of server-everything, server-filesystem and mcp-server-time).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._protocol import MAX_DEPTH
from .._text import clean_text, find_invisible, visible

__all__ = [
    "Finding",
    "MAX_SCAN_CHARS",
    "scan_tool",
    "scan_prompt",
    "scan_resource",
    "scan_instructions",
    "scan_text",
    "tool_definition",
    "RULES",
]

MAX_SCAN_CHARS = 100_000  # one description longer than this is refused rather than scanned in part
EXCERPT_CHARS = 96  # context kept around a match in a finding (audit records, `tools review`)

RULES = (
    "invisible-characters",
    "terminal-escape",
    "model-directive",
    "concealment",
    "credential-access",
    "cross-tool-reference",
    "shadowing",
    "exfiltration-parameter",
    "injection-phrases",
    "directive-in-value",
    "oversized-text",
)

# The parts of a tool definition the model sees and that are pinned. ``icons``/``_meta``/``execution`` are
# presentation or transport details, not model-visible text.
TOOL_FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    path: str
    excerpt: str

    def to_dict(self) -> dict:
        return {"rule": self.rule, "path": self.path, "excerpt": self.excerpt}

    @classmethod
    def from_dict(cls, d: Mapping) -> Finding:
        return cls(str(d.get("rule", "")), str(d.get("path", "")), str(d.get("excerpt", "")))

    def __str__(self) -> str:
        return f"{self.rule} at {self.path}"


# --- invisible and control characters ---------------------------------------------------------------------------

# Invisible characters are the shared table's (mcpwrap._text); tag characters are decoded as well.
_TAG_RE = re.compile("[\U000e0000-\U000e007f]+")
# C0 controls except tab/newline/carriage return, DEL, C1 controls (ESC starts ANSI sequences).
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _decode_tags(text: str) -> str:
    """Unicode tag characters U+E0020…U+E007E mirror ASCII: the hidden message they spell."""
    return "".join(
        chr(ord(ch) - 0xE0000) if 0xE0020 <= ord(ch) <= 0xE007E else " " for m in _TAG_RE.finditer(text) for ch in m.group()
    )


_EMPHASIS_RE = re.compile("[*`\"\u201c\u201d]+")
_SPACE_RE = re.compile(r"\s+")


def _normalise(text: str) -> str:
    if not text.isascii():
        text = clean_text(text)  # NFKC, every invisible character removed
        text = text.replace("\u2018", "'").replace("\u2019", "'")
    text = text.casefold()
    # Markdown emphasis and quotes around words would otherwise split phrases ("**do not** tell").
    text = _EMPHASIS_RE.sub(" ", text)
    return _SPACE_RE.sub(" ", text)


# --- phrase patterns (applied to normalised text) ---------------------------------------------------------------

_S = r"[^.!?\n]{0,80}"  # the rest of a sentence, bounded

_DIRECTIVE = [
    # <IMPORTANT>, <system>, </instructions>, [SYSTEM], {{important}} — markup addressed at the model
    r"<\s*/?\s*(?:important|system|instructions?|secret|hidden|admin|assistant|critical|note to (?:the )?(?:ai|assistant|model))\b[^<>]{0,40}>",
    r"\[\s*/?\s*(?:important|system|instructions?|admin)\s*\]",
    r"\b(?:before|prior to|after)\s+(?:using|calling|invoking|running|executing)\s+(?:this|the|any|each)\s+(?:\w+\s+)?(?:tool|function)\b"
    + _S
    + r"\b(?:you\s+)?(?:must|have to|need to|are required to|always)\b",
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|preceding|other|system)\s+(?:instructions|rules|directions|prompts?|guidelines|messages)",
    r"\botherwise\s+(?:the\s+|this\s+)?(?:tool|function|system|application|server|request)?\s*"
    r"(?:will|would|might)\s+(?:not\s+work|fail|break|crash|stop working)",
    r"\byou\s+(?:must|have to|need to|should)\s+(?:first|always|also|immediately|silently|secretly)\b",
    r"\b(?:the\s+)?(?:assistant|ai|llm|language model|model)\s+(?:must|should|needs? to|is required to)\s+(?:always|first|also|never)?\s*\w+",
    r"\byou are now\b|\bnew (?:system )?instructions?\s*:",
    r"\b(?:before|after)\s+(?:answering|responding|replying|proceeding|you\s+(?:answer|respond|reply))\b",
    r"\bthis is (?:very |extremely |absolutely )?(?:important|critical|mandatory)\s*[:!]",
]

_CONCEALMENT = [
    r"\b(?:do\s+not|don't|never|must\s+not|should\s+not|without)\s+(?:tell|telling|inform|informing|mention|mentioning|reveal|revealing|notify|notifying|alert|alerting|disclose|disclosing|show|showing|explain|explaining)\s+(?:this\s+|it\s+|that\s+|anything\s+|them\s+)?(?:to\s+)?(?:the\s+)?users?\b",
    r"\b(?:the\s+)?users?\s+(?:must|should|need)\s+not\s+(?:know|see|notice|find out|be (?:told|informed|aware|notified))",
    r"\bwithout\s+(?:the\s+)?users?'?s?\s+(?:knowledge|noticing|knowing|awareness|consent)",
    r"\b(?:secretly|covertly|surreptitiously)\b",
    r"\b(?:hide|conceal)\s+(?:this|it|the\s+\w+)\s+from\s+(?:the\s+)?users?\b",
    r"\b(?:do\s+not|don't|never)\s+(?:mention|tell|reveal|disclose|say)\s+(?:that|this|it|anything\s+about)\b",
]

_CREDENTIAL_FILES = [
    r"(?:~|\$home|%userprofile%)?/?\.ssh\b",
    r"\bid_(?:rsa|dsa|ecdsa|ed25519)\b",
    r"(?<![\w.])\.env\b(?!\s*var)",
    r"\bmcp\.json\b",
    r"\bclaude_desktop_config\.json\b",
    r"(?<![\w])\.claude\.json\b",
    r"\.aws/(?:credentials|config)\b",
    r"(?<![\w])\.(?:npmrc|netrc|pypirc|pgpass|git-credentials|bash_history|zsh_history)\b",
    r"\.kube/config\b|\.docker/config\.json\b|\.config/gcloud\b|\.gnupg\b",
    r"/etc/(?:passwd|shadow|sudoers)\b",
    r"\bwallet\.dat\b|\bkeychain\b",
]
_CREDENTIAL_REQUEST = [
    r"\b(?:contents?|text|value)\s+of\s+(?:the\s+|your\s+|all\s+|any\s+)?(?:user'?s?\s+)?(?:private\s+keys?|ssh\s+keys?|api\s+keys?|credentials?|secrets?|passwords?|access\s+tokens?|environment\s+variables)",
    r"\b(?:read|cat|open|load|collect|gather|extract|copy|upload|send|include)\s+(?:the\s+|your\s+|all\s+|any\s+)?(?:user'?s?\s+)?(?:private\s+keys?|ssh\s+keys?|credentials\s+files?|secret\s+keys?)\b",
]

_CROSS_TOOL = [
    r"\b(?:when|whenever|if|before|after)\s+(?:the\s+)?(?:user\s+|you\s+)?(?:calls?|uses?|invokes?|runs?)\s+(?:any\s+|an?\s+|the\s+)?(?:other|another|different)\s+(?:\w+\s+)?(?:tool|function|server)s?\b",
    r"\b(?:all|any|every)\s+(?:other\s+)?(?:tool|function)s?\s+(?:calls?|requests?|invocations?)\b" + _S + r"\b(?:must|should|need to|have to)\b",
    r"\bside\s+effects?\s+on\s+(?:the\s+)?(?:also\s+present\s+|other\s+|another\s+|all\s+)",
    r"\b(?:also\s+present|other|another)\s+[\w-]+\s+tool\b" + _S + r"\b(?:must|should|always|instead)\b",
    r"\bother\s+mcp\s+servers?\b|\b(?:tools?|functions?)\s+(?:of|from|on)\s+(?:any\s+|all\s+)?other\s+(?:mcp\s+)?servers?\b",
    r"\b(?:change|modify|override|replace|redirect|intercept|hijack)\w*\s+(?:the\s+)?(?:behaviou?r|recipients?|destination|arguments?|parameters?|outputs?)\s+of\s+(?:the\s+|all\s+|any\s+|every\s+|other\s+)*(?:[\w-]+\s+)?(?:tools?|functions?)\b",
    r"\bwhen\s+this\s+tool\s+is\s+(?:available|present|loaded|installed|enabled)\b",
    r"\binstead\s+of\s+(?:using\s+|calling\s+)?(?:the\s+)?(?:other|another|any\s+other)\s+(?:\w+\s+)?(?:tool|function|server)s?\b",
    # Shadowing by description: claiming to replace another tool or server ("the preferred replacement for the
    # filesystem server's write_file", "use this instead of write_file").
    r"\b(?:preferred|recommended|official|improved|updated|new|better|drop-in|mandatory)\s+(?:replacement|alternative|substitute|successor|version)\s+(?:for|of|to)\b",
    r"\b[\w-]{1,40}\s+(?:mcp\s+)?server'?s\s+[`'\"]?[a-z0-9]{1,40}(?:[_-][a-z0-9]{1,40}){1,6}\b",
    r"\binstead\s+of\s+(?:using\s+|calling\s+)?(?:the\s+)?[`'\"]?[a-z0-9]{1,40}(?:_[a-z0-9]{1,40}){1,6}\b",
    r"\b(?:never|do\s+not|don't)\s+(?:use|call|invoke)\s+(?:the\s+)?[`'\"]?[a-z0-9]{1,40}(?:_[a-z0-9]{1,40}){1,6}\b",
]

# What an exfiltration instruction asks to smuggle out.
_DATA_SOURCE = (
    r"(?:\b(?:all|every|entire|full|complete|whole|each)\s+(?:of\s+)?(?:the\s+|your\s+|my\s+|user'?s?\s+|previous\s+|existing\s+|other\s+|stored\s+|saved\s+){0,3}"
    r"(?:notes?|messages?|conversation|chat|history|files?|contents?|context|documents?|emails?|secrets?|keys?|credentials?|passwords?|memories|tool\s+(?:outputs?|results?))\b"
    r"|\b(?:conversation|chat|message)\s+history\b|\bprevious\s+(?:messages?|instructions|tool\s+(?:calls?|results?|outputs?)|conversation)\b"
    r"|\bsystem\s+prompt\b|\b(?:contents?|text)\s+of\s+(?:the\s+|any\s+|all\s+)?(?:files?|~|/|\.)"
    r"|\b(?:other|all)\s+tools?'?\s+(?:outputs?|results?|responses?))"
)
_FILL = r"\b(?:pass|put|include|insert|add|send|fill|copy|provide|place|append|attach|store|write|set|paste|dump|concatenate|embed)\w*\b"
# Parameter names that exfiltration payloads typically hide behind. A name alone is never a finding.
HIDDEN_PARAMETER_NAMES = frozenset(
    {
        "metadata",
        "meta",
        "notes",
        "note",
        "sidenote",
        "side_note",
        "feedback",
        "context",
        "extra",
        "debug",
        "comment",
        "comments",
        "details",
        "info",
        "trace",
        "telemetry",
        "remarks",
        "memo",
        "internal",
        "hidden",
        "annotation",
        "data",
    }
)
_HIDDEN_HINT = r"\b(?:hidden|internal(?:\s+use)?|do not (?:show|display|mention)|implementation detail|not shown|invisible)\b"


def _compile(patterns: Iterable[str]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


class _Patterns:
    """Compiled on first use: ``wrap`` imports this module at start-up, and a session may never list tools."""

    def __init__(self) -> None:
        self.phrase_rules: tuple[tuple[str, re.Pattern], ...] = (
            ("model-directive", _compile(_DIRECTIVE)),
            ("concealment", _compile(_CONCEALMENT)),
            ("credential-access", _compile(_CREDENTIAL_FILES + _CREDENTIAL_REQUEST)),
            ("cross-tool-reference", _compile(_CROSS_TOOL)),
        )
        self.data = re.compile(_DATA_SOURCE)
        self.fill = re.compile(_FILL)
        # In a sentence that already names the parameter and a fill verb, "its content" (of a file just
        # named) or a credential file is enough.
        self.fill_data = re.compile(_DATA_SOURCE + r"|\b(?:its|their)\s+contents?\b|" + "|".join(_CREDENTIAL_FILES))
        self.hidden_hint = re.compile(_HIDDEN_HINT)


_compiled: _Patterns | None = None


def _patterns() -> _Patterns:
    global _compiled
    if _compiled is None:
        _compiled = _Patterns()
    return _compiled


def _excerpt(text: str, start: int, end: int) -> str:
    pad = max(0, (EXCERPT_CHARS - (end - start)) // 2)
    a, b = max(0, start - pad), min(len(text), end + pad)
    snippet = visible(text[a:b]).strip()
    if len(snippet) > EXCERPT_CHARS + 40:
        snippet = snippet[: EXCERPT_CHARS + 40] + "…"
    return ("…" if a > 0 else "") + snippet + ("…" if b < len(text) else "")


def scan_text(text: str, path: str, *, other_tools: Mapping[str, str] | None = None, own_names: frozenset = frozenset()) -> list[Finding]:
    """Findings for one string of a definition. ``other_tools`` maps tool names of *other* servers to them."""
    findings: list[Finding] = []
    if len(text) > MAX_SCAN_CHARS:
        return [Finding("oversized-text", path, f"{len(text)} characters (limit {MAX_SCAN_CHARS})")]
    invisible = find_invisible(text)
    if invisible:
        hidden = _decode_tags(text).strip()
        note = f" hidden text: {hidden[:EXCERPT_CHARS]!r}" if hidden else ""
        at = invisible[0][0]
        findings.append(Finding("invisible-characters", path, _excerpt(text, at, at + 1) + note))
    m = _CONTROL_RE.search(text)
    if m:
        findings.append(Finding("terminal-escape", path, _excerpt(text, m.start(), m.end())))
    candidates = [_normalise(text)]
    if findings and findings[0].rule == "invisible-characters":
        hidden = _decode_tags(text)
        if hidden.strip():
            candidates.append(_normalise(hidden))
    decoded = _decoded_layers(text)
    candidates += [_normalise(d) for d in decoded]
    phrase = _phrase_score(text, decoded)
    if phrase is not None:
        findings.append(Finding("injection-phrases", path, phrase))
    for norm in candidates:
        for rule, pattern in _patterns().phrase_rules:
            if any(f.rule == rule for f in findings):
                continue
            m = pattern.search(norm)
            if m:
                findings.append(Finding(rule, path, _excerpt(norm, m.start(), m.end())))
        if other_tools:
            hit = _mentions_other_tool(norm, other_tools, own_names)
            if hit and not any(f.rule == "shadowing" for f in findings):
                name, server, start, end = hit
                findings.append(Finding("shadowing", path, f"names tool {name!r} of server {server!r}: " + _excerpt(norm, start, end)))
    return findings


DEFINITION_THRESHOLD = 1.0  # summed phrase-signal weight a definition string (or a decoded layer of it) may reach
VALUE_THRESHOLD = 0.5  # the same for an enum/const/default/examples value: a data value has no business instructing
_VALUE_KEYS = frozenset({"enum", "const", "default", "examples"})


def _decoded_layers(text: str) -> list[str]:
    """What a model decodes without being asked: base64/hex/percent runs that read as text. (HTML comments and
    hidden elements are text of the string already, and are matched in place.)"""
    if len(text) < nz_min_run():
        return []
    from .normalize import decode_runs

    return [d.text for d in decode_runs(text)]


def nz_min_run() -> int:
    from .normalize import MIN_BASE64_RUN

    return MIN_BASE64_RUN


def phrase_weight(text: str) -> tuple[float, list[str]]:
    """The injection detector's phrase signals anywhere in ``text`` (no anchor gating: definitions are short)
    and their summed weight."""
    from . import injection

    signals = injection.all_signals(text)
    return round(sum(injection.SIGNALS[n][0] for n in signals), 3), sorted(signals)


def _phrase_score(text: str, decoded: list[str]) -> str | None:
    best: tuple[float, list[str], str] = (0.0, [], "")
    for layer, label in [(text, ""), *((d, "decoded ") for d in decoded)]:
        weight, signals = phrase_weight(layer)
        if weight > best[0]:
            best = (weight, signals, label)
    weight, signals, label = best
    if weight >= DEFINITION_THRESHOLD:
        return f"{label}phrase signals {', '.join(signals)} (weight {weight:g} ≥ {DEFINITION_THRESHOLD:g})"
    return None


def _mentions_other_tool(norm: str, other_tools: Mapping[str, str], own_names: frozenset) -> tuple[str, str, int, int] | None:
    """A mention of another server's tool. Plain-word names ("echo", "search") count only as ``the X tool``
    or ``X tool`` — ordinary prose uses those words — while names with ``_``/``-``/digits count anywhere."""
    compiled = _names_pattern(tuple(sorted(other_tools.items())), own_names)
    if compiled is None:
        return None
    pattern, names = compiled
    m = pattern.search(norm)
    if m is None:
        return None
    assert m.lastgroup is not None  # every alternative of the pattern is a named group
    name = names[int(m.lastgroup[1:])]
    return name, other_tools[name], m.start(), m.end()


@functools.lru_cache(maxsize=64)
def _names_pattern(other_tools: tuple[tuple[str, str], ...], own_names: frozenset) -> tuple[re.Pattern, list[str]] | None:
    """One alternation over every name (a group per name), compiled once per set of other servers' tools."""
    parts: list[str] = []
    names: list[str] = []
    for name, _server in other_tools:
        if name.casefold() in own_names or len(name) < 3:
            continue
        key = re.escape(name.casefold())
        distinctive = bool(re.search(r"[_\-.0-9]", name)) or name != name.lower()
        if distinctive:
            body = r"(?<![a-z0-9])" + key + r"(?![a-z0-9])"
        else:
            body = r"\b" + key + r"\s+(?:tool|function)\b|\b(?:tool|function)\s+" + key + r"\b"
        parts.append(f"(?P<n{len(names)}>{body})")
        names.append(name)
    if not parts:
        return None
    return re.compile("|".join(parts)), names


# --- walking definitions ----------------------------------------------------------------------------------------

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _child(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key)
    return f"{path}.{key}" if _IDENT_RE.match(key) else f"{path}[{visible(key)!r}]"


# JSON Schema's own vocabulary, as keys and as values of "type": nothing to find there, and most of the strings
# of a schema. Exact matches only, so a key or value with anything added is still scanned.
_SCHEMA_WORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "items",
        "description",
        "title",
        "enum",
        "default",
        "format",
        "const",
        "additionalProperties",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "$schema",
        "$ref",
        "$defs",
        "definitions",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "pattern",
        "examples",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "uniqueItems",
        "multipleOf",
        "nullable",
        "readOnlyHint",
        "destructiveHint",
        "idempotentHint",
        "openWorldHint",
        "name",
        "inputSchema",
        "outputSchema",
        "annotations",
        "string",
        "object",
        "array",
        "number",
        "integer",
        "boolean",
        "null",
        "http://json-schema.org/draft-07/schema#",
        "https://json-schema.org/draft/2020-12/schema",
    }
)


def _strings(value: Any, path: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value, keys included (a property name is model-visible too), with its path.

    Reaches as deep as the decoder accepts (MAX_DEPTH); deeper can only be a value built in-process, which is
    refused rather than scanned in part."""
    if depth >= MAX_DEPTH:
        raise ValueError(f"{path} nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if value not in _SCHEMA_WORDS:
            yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            child = _child(path, k)
            if isinstance(k, str) and k not in _SCHEMA_WORDS:
                yield child + "<key>", k
            yield from _strings(v, child, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, _child(path, i), depth + 1)


def tool_definition(tool: Mapping) -> dict:
    """The pinned, model-visible part of a tool definition."""
    return {k: tool[k] for k in TOOL_FIELDS if k in tool}


def _scan_strings(value: Any, root: str, other_tools: Mapping[str, str] | None, own_names: frozenset) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for path, text in _strings(value, root):
        if not text:
            continue
        extra: list[Finding] = []
        if _in_value(path) and " " in text.strip():
            weight, signals = max((phrase_weight(x) for x in [text, *_decoded_layers(text)]), key=lambda ws: ws[0])
            if weight >= VALUE_THRESHOLD:
                what = f"phrase signals {', '.join(signals)} in a schema value: "
                extra.append(Finding("directive-in-value", path, what + _excerpt(visible(text), 0, len(text))))
        for f in [*extra, *scan_text(text, path, other_tools=other_tools, own_names=own_names)]:
            key = (f.rule, f.path)
            if key not in seen:
                seen.add(key)
                findings.append(f)
    return findings


_VALUE_PATH = re.compile(r"\.(?:enum|const|default|examples)(?:\[\d+\]|$)")


def _in_value(path: str) -> bool:
    """Whether a string's path lies inside an ``enum``/``const``/``default``/``examples`` of a schema."""
    return not path.endswith("<key>") and _VALUE_PATH.search(path) is not None


def _properties(schema: Any, path: str, depth: int = 0) -> Iterator[tuple[str, str, dict]]:
    """(name, path, subschema) of every named property, nested objects and array items included."""
    if not isinstance(schema, dict):
        return
    if depth >= MAX_DEPTH:
        raise ValueError(f"{path} nests deeper than {MAX_DEPTH} levels")
    props = schema.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            p = _child(_child(path, "properties"), name)
            if isinstance(sub, dict):
                yield str(name), p, sub
                yield from _properties(sub, p, depth + 1)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _properties(schema[key], _child(path, key), depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list):
            for i, sub in enumerate(schema[key]):
                yield from _properties(sub, _child(_child(path, key), i), depth + 1)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s]


def _exfiltration(tool: Mapping) -> list[Finding]:
    """Parameters the definition asks to fill with data that has nothing to do with the call."""
    findings: list[Finding] = []
    pats = _patterns()
    description = _normalise(str(tool.get("description") or ""))
    for name, path, sub in _properties(tool.get("inputSchema"), "$.inputSchema"):
        key = name.casefold()
        own = _normalise(" ".join(str(sub.get(k) or "") for k in ("title", "description")))
        hidden_name = key in HIDDEN_PARAMETER_NAMES or bool(pats.hidden_hint.search(own))
        # 1. the parameter's own text asks for unrelated data ("all notes", "the conversation history")
        m = pats.data.search(own)
        if m and (hidden_name or pats.fill.search(own)):
            findings.append(Finding("exfiltration-parameter", path, f"parameter {name!r}: " + _excerpt(own, m.start(), m.end())))
            continue
        # 2. a sentence of the tool description names the parameter, a fill verb and such data
        word = re.compile(r"(?<![\w-])" + re.escape(key) + r"(?![\w-])")
        for sentence in _sentences(description):
            if word.search(sentence) and pats.fill.search(sentence):
                m = pats.fill_data.search(sentence)
                if m:
                    findings.append(Finding("exfiltration-parameter", path, f"parameter {name!r}: " + _excerpt(sentence, m.start(), m.end())))
                    break
    return findings


def scan_tool(tool: Mapping, *, other_tools: Mapping[str, str] | None = None, own_names: Iterable[str] = ()) -> list[Finding]:
    """Findings for one ``tools/list`` entry (every model-visible string, then the parameter-level checks)."""
    own = frozenset(n.casefold() for n in own_names) | {str(tool.get("name", "")).casefold()}
    findings = _scan_strings(tool_definition(tool), "$", other_tools, own)
    findings += _exfiltration(tool)
    return findings


def scan_prompt(prompt: Mapping, *, other_tools: Mapping[str, str] | None = None, own_names: Iterable[str] = ()) -> list[Finding]:
    fields = {k: prompt[k] for k in ("name", "title", "description", "arguments") if k in prompt}
    return _scan_strings(fields, "$", other_tools, frozenset(n.casefold() for n in own_names))


def scan_resource(resource: Mapping, *, other_tools: Mapping[str, str] | None = None, own_names: Iterable[str] = ()) -> list[Finding]:
    fields = {k: resource[k] for k in ("uri", "uriTemplate", "name", "title", "description", "mimeType") if k in resource}
    return _scan_strings(fields, "$", other_tools, frozenset(n.casefold() for n in own_names))


def scan_instructions(text: str, *, other_tools: Mapping[str, str] | None = None, own_names: Iterable[str] = ()) -> list[Finding]:
    return scan_text(text, "$.instructions", other_tools=other_tools, own_names=frozenset(n.casefold() for n in own_names))
