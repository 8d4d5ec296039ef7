"""Risk classes of tools: ``read``, ``write``, ``destructive``, ``execute``, ``external`` (open world).

A tool's class comes from its name first, its description second, and its annotations last. Annotations
are hints the server chooses, so they are untrusted: ``destructiveHint: true`` and ``openWorldHint: true``
may raise a class (a server that says it is dangerous is believed), but ``readOnlyHint: true`` lowers one
only when the name and the description agree with it — the name has no write/destructive/execute word and
the description no destructive/execute word. A tool whose name and description say nothing is ``read``.

When several classes apply, the most severe is the class: execute > destructive > external > write > read.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["RISK_CLASSES", "classify", "classify_name"]

RISK_CLASSES = ("read", "write", "external", "destructive", "execute")  # in order of severity
_SEVERITY = {c: i for i, c in enumerate(RISK_CLASSES)}

_WORDS: dict[str, frozenset[str]] = {
    "execute": frozenset(
        "exec execute executes executing run runs shell bash sh zsh cmd command commands eval evaluate spawn "
        "subprocess script scripts terminal powershell invoke python node javascript code interpreter".split()
    ),
    "destructive": frozenset(
        "delete deletes deleting remove removes rm rmdir drop destroy kill truncate purge erase wipe unlink "
        "overwrite format revoke terminate uninstall reset shred".split()
    ),
    "external": frozenset(
        "fetch http https url urls web browse browser internet send email mail post slack webhook download "
        "upload tweet publish notify sms api request requests curl wget online remote crawl scrape".split()
    ),
    "write": frozenset(
        "write writes create creates update updates set edit edits modify save saves put insert add move "
        "rename append patch commit push install mkdir store replace upsert apply change".split()
    ),
    "read": frozenset(
        "get read list search find show view describe query stat info echo lookup fetch_local count "
        "check inspect print display status".split()
    ),
}

_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def _classes_of(tokens: list[str]) -> set[str]:
    found = set()
    for token in tokens:
        for cls, words in _WORDS.items():
            if token in words:
                found.add(cls)
    return found


def _max(classes: set[str]) -> str:
    return max(classes, key=_SEVERITY.__getitem__) if classes else "read"


def classify_name(name: str) -> str:
    """The class a tool name alone suggests (used for tools called without having been listed)."""
    return _max(_classes_of(_tokens(name)) - {"read"} or {"read"})


def classify(tool: dict[str, Any]) -> tuple[str, list[str]]:
    """``(class, signals)`` for a tool definition from ``tools/list``; signals say what decided."""
    raw_name, raw_description, raw_annotations = tool.get("name"), tool.get("description"), tool.get("annotations")
    name = raw_name if isinstance(raw_name, str) else ""
    description = raw_description if isinstance(raw_description, str) else ""
    annotations: dict = raw_annotations if isinstance(raw_annotations, dict) else {}
    signals: list[str] = []
    name_classes = _classes_of(_tokens(name)) - {"read"}
    # The first sentence says what a tool does; later ones tend to mention other things ("…before you run…").
    first = re.split(r"(?<=[.!?])\s", description.strip(), maxsplit=1)[0] if description else ""
    desc_classes = _classes_of(_tokens(first)) - {"read"}
    if name_classes:
        signals.append(f"name: {', '.join(sorted(name_classes))}")
    if desc_classes:
        signals.append(f"description: {', '.join(sorted(desc_classes))}")
    classes = name_classes | desc_classes
    if annotations.get("destructiveHint") is True and "destructive" not in classes:
        classes.add("destructive")
        signals.append("annotation: destructiveHint")
    if annotations.get("openWorldHint") is True and "external" not in classes:
        classes.add("external")
        signals.append("annotation: openWorldHint")
    # Lowering: a hint may only remove a class that the description suggested and the name does not.
    if annotations.get("readOnlyHint") is True and "write" in classes:
        if "write" not in name_classes and not (classes & {"destructive", "execute"}):
            classes.discard("write")
            signals.append("annotation: readOnlyHint lowered write (the name agrees)")
        else:
            signals.append("annotation: readOnlyHint ignored (the name or description disagrees)")
    if annotations.get("openWorldHint") is False and "external" in classes:
        if "external" not in name_classes:
            classes.discard("external")
            signals.append("annotation: openWorldHint=false lowered external (the name agrees)")
        else:
            signals.append("annotation: openWorldHint=false ignored (the name disagrees)")
    return _max(classes), signals
