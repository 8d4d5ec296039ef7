"""Exact calls: a rule condition that matches one call and nothing else (what "remember always" writes).

::

    match:
      exact:
        server: files                      # literal: compared with ==, no glob, no case folding
        tool: write_file                   # literal, and the method is tools/call
        subject: alice                     # literal (optional: absent = any subject)
        arguments: {path: /tmp/a, text: hi}            # the whole arguments object, for people to read
        digest: sha256:5c1f…               # its canonical digest: what is compared (optional when hand-written)

The other match keys compare names as globs and arguments one by one, in several readings, so a rule written
from a call a person approved would also match other calls: a tool named ``*``, a call with one more argument
(``force: true``), an argument spelled differently. ``exact`` instead holds when the call's arguments have the
same **canonical digest** as the arguments written in the rule — the SHA-256 of their canonical JSON
(:func:`canonical_json`: sorted keys, no whitespace, ASCII escapes, integers and floats as JSON writes them,
``true`` never equal to ``1``) — and the server, tool and subject are equal to the literals. An extra, missing
or different argument, at any depth, changes the digest.

The digest is computed from ``arguments`` when the rule is loaded; a ``digest`` written in the rule must be
that value, so a rule whose shown arguments and digest disagree (hand-edited, or changed by a YAML round trip)
is an error instead of a rule that matches something other than what it shows.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .._config import check_keys, expect
from .._errors import ConfigError
from .readings import MAYBE, Unknown

__all__ = ["EXACT_METHOD", "ExactCall", "canonical_json", "arguments_digest"]

EXACT_METHOD = "tools/call"  # the one method whose calls an exact condition names (by tool and arguments)
_KEYS = {"server", "tool", "subject", "arguments", "digest"}
_CACHE_KEY = ("exact-digest",)  # the call's digest, computed once per decision however many exact rules there are


def canonical_json(value: Any) -> str:
    """One spelling of a JSON value: sorted keys, no whitespace, ASCII only (so a lone surrogate has a spelling
    too), no NaN or infinity (ValueError). ``1``, ``1.0`` and ``true`` stay three different values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def arguments_digest(arguments: Any) -> str:
    """The canonical digest of a call's whole arguments object (``sha256:`` + hex)."""
    return "sha256:" + hashlib.sha256(canonical_json(arguments).encode("ascii")).hexdigest()


class ExactCall:
    """The ``exact`` condition of a rule: literal server, tool and subject, and the digest of the arguments."""

    # The attributes the engine reads from an argument condition (this one is never batched into an RE2 set).
    kind = "exact"
    key = "(the whole arguments object)"

    __slots__ = ("server", "tool", "subject", "arguments", "digest", "patterns")

    def __init__(self, raw: Any, path: tuple) -> None:
        expect(raw, dict, path, "mapping with server, tool, arguments")
        check_keys(raw, _KEYS, path)
        for key in ("server", "tool"):
            if key not in raw:
                raise ConfigError(f"an exact call needs its {key}", path=path)
        self.server: str = expect(raw["server"], str, path + ("server",))
        self.tool: str = expect(raw["tool"], str, path + ("tool",))
        self.subject: str | None = expect(raw["subject"], str, path + ("subject",)) if "subject" in raw else None
        if "arguments" not in raw:
            raise ConfigError("an exact call needs its arguments (null for a call without any)", path=path)
        self.arguments = raw["arguments"]
        if self.arguments is not None and not isinstance(self.arguments, dict):
            raise ConfigError("arguments must be a mapping (the call's whole arguments object) or null", path=path + ("arguments",))
        try:
            self.digest = arguments_digest(self.arguments)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"arguments cannot be written as JSON: {exc}", path=path + ("arguments",)) from None
        if "digest" in raw:
            written = expect(raw["digest"], str, path + ("digest",))
            if written != self.digest:
                raise ConfigError(
                    f"digest {written!r} is not the digest of the arguments shown ({self.digest}): the rule would match "
                    "something other than what it shows; fix the arguments, or delete the digest to use theirs",
                    path=path + ("digest",),
                )
        self.patterns = (self.digest,)

    # --- identity and message: literals -------------------------------------------------------------------------

    def identity_match(self, server: str, subject: str) -> bool:
        return server == self.server and (self.subject is None or subject == self.subject)

    def message_match(self, method: str, tool: str | None) -> bool:
        return method == EXACT_METHOD and tool == self.tool

    # --- arguments: the digest ----------------------------------------------------------------------------------

    def evaluate(self, args: Any, cache: dict) -> Any:
        """True when ``args`` has this digest; MAYBE when the arguments are not known (listings, replays)."""
        if isinstance(args, Unknown):
            return MAYBE
        digest = cache.get(_CACHE_KEY)
        if digest is None:
            try:
                digest = arguments_digest(args)
            except (TypeError, ValueError):  # not JSON (cannot come from the wire): matches no exact rule
                digest = ""
            cache[_CACHE_KEY] = digest
        return digest == self.digest

    def explain(self, args: Any) -> str:
        who = f"server {self.server!r}, tool {self.tool!r}" + (f", subject {self.subject!r}" if self.subject is not None else "")
        return f"exactly the call approved: {who}, arguments with digest {self.digest}"
