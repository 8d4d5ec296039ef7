"""Pinned server definitions (trust on first use) and the held changes awaiting a person's review.

One JSON file per server under ``$MCPWRAP_HOME/pins/`` (``<server>.json``; unusual characters in the name
are percent-encoded). A file holds *entries*, one per tool (key ``tool:<name>``) plus one for the server's
``instructions``::

    {"format": 1, "server": "notes",
     "entries": {"tool:save_note": {
         "kind": "tool", "name": "save_note",
         "approved": {"hash": "…", "definition": {…}, "at": "…", "by": "first-use" | "person"} | null,
         "pending":  {"hash": "…", "definition": {…}, "at": "…", "reason": "changed" | "new" | "poisoned",
                      "findings": [{"rule", "path", "excerpt"}, …]} | null,
         "rejected": ["<hash>", …],
         "last_seen": "…", "also_on": ["other-server", …]}}}

The hash is SHA-256 of the canonical JSON (sorted keys, no whitespace, UTF-8) of the model-visible
definition: name, title, description, inputSchema, outputSchema, annotations — or the instructions text.

Invariants
- Only :meth:`PinStore.approve` and :meth:`PinStore.reject` move a pending definition to approved or
  rejected, and only the ``mcpwrap tools`` commands call them: nothing that arrives over MCP can approve.
- Every change is read-modify-write under an exclusive ``flock`` on ``<server>.lock``, so several mcpwrap
  processes (one per client session) can list the same server at once without losing an update.
- Writes are atomic (:func:`mcpwrap._fs.atomic_write`: temporary file in the same directory, fsync,
  ``os.replace``) and owner-only (0600 files in a 0700 directory): a crash leaves the old file or the new
  one, never half of each.
- A pin file that cannot be parsed is never silently replaced: it raises :class:`PinStoreError` and the
  integrity interceptor fails closed (holds every definition of that server) until a person repairs it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from .._errors import McpwrapError, UnsafeFileError
from .._fs import atomic_write, ensure_dir, locked, read_file

__all__ = [
    "PinStore",
    "PinStoreError",
    "canonical_json",
    "definition_hash",
    "entry_key",
    "INSTRUCTIONS",
    "default_pins_dir",
]

FORMAT = 1
INSTRUCTIONS = "instructions"  # the entry key and CLI name of a server's instructions
TOOL_PREFIX = "tool:"


class PinStoreError(McpwrapError):
    """The pin store cannot be read or written."""


def default_pins_dir() -> Path:
    from .._paths import pins_dir

    return pins_dir()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def entry_key(kind: str, name: str) -> str:
    return INSTRUCTIONS if kind == INSTRUCTIONS else TOOL_PREFIX + name


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _file_name(server: str) -> str:
    # Percent-encoding keeps every server name distinct and inside the directory ("../x" → "..%2Fx").
    encoded = quote(server, safe="-_ ").replace(" ", "%20")
    if encoded in ("", ".", ".."):
        encoded = "%2E" * len(encoded) or "%00"
    return encoded


class PinStore:
    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_pins_dir()
        self._names_cache: dict[str, tuple[tuple, tuple[str, ...]]] = {}

    # --- paths ---------------------------------------------------------------------------------------------

    def path(self, server: str) -> Path:
        return self.root / (_file_name(server) + ".json")

    def servers(self) -> list[str]:
        try:
            names = [e.name for e in os.scandir(self.root) if e.name.endswith(".json")]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(unquote(n[: -len(".json")]) for n in names)

    # --- reading -------------------------------------------------------------------------------------------

    def load(self, server: str) -> dict:
        """A snapshot of one server's pins (an empty document when the server was never seen)."""
        return self._parse(server, self._read(server))

    def _read(self, server: str) -> str | None:
        p = self.path(server)
        try:
            return read_file(p, what="pin file").decode("utf-8")
        except FileNotFoundError:
            return None
        except UnsafeFileError as exc:  # a link or a file others can write: its approvals could be anyone's
            raise PinStoreError(str(exc)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PinStoreError(f"cannot read pin file {p}: {getattr(exc, 'strerror', None) or exc}") from None

    def _parse(self, server: str, text: str | None) -> dict:
        if text is None:
            return {"format": FORMAT, "server": server, "entries": {}}
        p = self.path(server)
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise PinStoreError(f"pin file {p} is not valid JSON ({exc}); repair or remove it") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict):
            raise PinStoreError(f"pin file {p} is not a pin document; repair or remove it")
        if doc.get("format") != FORMAT:
            raise PinStoreError(f"pin file {p} has format {doc.get('format')!r}; this mcpwrap reads format {FORMAT}")
        return doc

    def exists(self, server: str) -> bool:
        return self.path(server).is_file()

    def tool_names(self, exclude: str | None = None) -> dict[str, list[str]]:
        """Tool names pinned (approved or pending) for every server except ``exclude``: name → servers."""
        names: dict[str, list[str]] = {}
        for server in self.servers():
            if server == exclude:
                continue
            for name in self._tool_names_of(server):
                names.setdefault(name, []).append(server)
        return names

    def _tool_names_of(self, server: str) -> tuple[str, ...]:
        # Every listing asks for the other servers' names: re-parse a file only when it changed.
        try:
            st = os.stat(self.path(server))
        except OSError:
            return ()
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._names_cache.get(server)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            doc = self.load(server)
        except PinStoreError:
            return ()  # another server's broken file must not break this one; `tools list` reports it
        names = tuple(
            str(e.get("name")) for e in doc["entries"].values() if isinstance(e, dict) and e.get("kind") == "tool"
        )
        self._names_cache[server] = (stamp, names)
        return names

    # --- writing -------------------------------------------------------------------------------------------

    def _lock_path(self, server: str) -> Path:
        try:
            ensure_dir(self.root, what="pin files")
        except UnsafeFileError as exc:
            raise PinStoreError(str(exc)) from None
        return self.root / (_file_name(server) + ".lock")

    def _write(self, server: str, doc: dict) -> None:
        atomic_write(self.path(server), json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")

    def update(self, server: str, change: Callable[[dict], Any], *, optimistic: bool = False) -> Any:
        """Run ``change(doc)`` on the current document under the server's lock and save it if it changed.

        ``optimistic``: first run ``change`` on an unlocked snapshot; when it changes nothing (the steady
        state: every definition already pinned) its result stands and no lock is taken. ``change`` must then
        be free of side effects other than on ``doc``, since it may run twice.
        """
        if optimistic:
            text = self._read(server)
            if text is not None:
                doc = self._parse(server, text)
                result = change(doc)
                if doc == self._parse(server, text):
                    return result
        try:
            with locked(self._lock_path(server)):
                text = self._read(server)
                doc = self._parse(server, text)
                before = self._parse(server, text)  # a second parse is cheaper than a deep copy
                result = change(doc)
                if doc != before:
                    doc["format"], doc["server"] = FORMAT, server
                    self._write(server, doc)
                return result
        except OSError as exc:
            raise PinStoreError(f"cannot write pins of {server!r} under {self.root}: {exc.strerror or exc}") from None

    # --- the human decisions ---------------------------------------------------------------------------------

    def pending(self, server: str | None = None) -> list[tuple[str, str, dict]]:
        """(server, entry key, entry) of every definition awaiting review."""
        out = []
        for s in [server] if server else self.servers():
            for key, entry in sorted(self.load(s)["entries"].items()):
                if isinstance(entry, dict) and entry.get("pending"):
                    out.append((s, key, entry))
        return out

    def approve(self, server: str, key: str) -> dict | None:
        """Pin the pending definition of ``key`` as approved by a person. Returns the entry, or None."""

        def change(doc: dict) -> dict | None:
            entry = doc["entries"].get(key)
            if not isinstance(entry, dict) or not entry.get("pending"):
                return None
            pending = entry.pop("pending")
            entry["approved"] = {"hash": pending["hash"], "definition": pending["definition"], "at": utc_now(), "by": "person",
                                 "acknowledged": pending.get("findings") or []}
            entry["pending"] = None
            entry["rejected"] = [h for h in entry.get("rejected", []) if h != pending["hash"]]
            return entry

        return self.update(server, change)

    def reject(self, server: str, key: str) -> dict | None:
        """Refuse the pending definition of ``key`` for good: it stays hidden and blocked."""

        def change(doc: dict) -> dict | None:
            entry = doc["entries"].get(key)
            if not isinstance(entry, dict) or not entry.get("pending"):
                return None
            pending = entry.pop("pending")
            entry["pending"] = None
            rejected = entry.setdefault("rejected", [])
            if pending["hash"] not in rejected:
                rejected.append(pending["hash"])
            return entry

        return self.update(server, change)


def new_entry(kind: str, name: str) -> dict:
    return {"kind": kind, "name": name, "approved": None, "pending": None, "rejected": []}


def entry_status(entry: Mapping | None) -> str:
    """A one-word status for listings: approved, held (changed), new (held), poisoned, rejected."""
    if not entry:
        return "unknown"
    pending = entry.get("pending")
    if pending:
        return {"changed": "held", "new": "held-new", "poisoned": "poisoned"}.get(pending.get("reason"), "held")
    if entry.get("approved"):
        return "approved"
    if entry.get("rejected"):
        return "rejected"
    return "unknown"
