"""Tool-definition integrity: the poisoning scan, pinning (trust on first use) and rug-pull holds.

What the interceptor sees and does
- ``tools/list`` results (s2c, answered request ``tools/list``): every tool definition is scanned
  (:mod:`mcpwrap.detect.poison`) and compared with its pin (:mod:`mcpwrap._state.pins`). A tool that is poisoned (with
  ``action: block``), changed since it was approved, rejected, or new on an already-pinned server with
  ``new_tools: hold`` is *withheld*: the listing is forwarded without it (a MODIFY verdict whose audit
  details name the tool, its status and — for findings — the JSON path that fired).
- ``initialize`` / ``server/discover`` results: the server ``instructions`` are scanned and pinned the same
  way; withheld instructions are removed from the result.
- ``prompts/list``, ``resources/list``, ``resources/templates/list`` results: scanned (not pinned); poisoned
  entries are removed.
- ``tools/call`` / ``prompts/get`` / ``resources/read`` requests for something withheld get the block
  contract, with a reason telling the person how to review it (``mcpwrap tools review``,
  ``mcpwrap tools approve SERVER TOOL``).
- Ambiguous names: a tool name listed twice in one listing (on one page or across its pages), or beside a name
  a model cannot tell from it (equal after NFKC, invisible-character removal, case folding and look-alike
  folding: :func:`mcpwrap._text.ambiguous_names`), is hostile — which definition would a call run? Every copy
  is withheld, none is pinned or compared with a pin, and calls to it (or to any name that reads the same) get
  the block contract until a listing without the clash arrives (rule ``integrity.ambiguous-name``).

Invariants
- Nothing in MCP traffic can approve a definition: this module only ever *adds* pending entries; moving one
  to approved is done by :meth:`PinStore.approve`, which only the ``mcpwrap tools`` commands call. A call to
  a withheld tool re-reads the store, so a person's approval takes effect without restarting the session.
- On the first sight of a server (no pin file yet) every clean definition is pinned; afterwards new tools
  follow ``new_tools``. A changed definition is always held, whatever ``action`` says (``action`` is about
  the poisoning findings only).
- Fail closed: an unreadable pin store raises, which blocks the listing (the chain turns it into a block).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .._chain import ChainContext, Interceptor
from .._config import Config, Section, check_keys, expect
from .._errors import ConfigError
from .._message import Action, Direction, Kind, Message, Verdict
from .._state.pins import INSTRUCTIONS, PinStore, definition_hash, entry_key, new_entry, utc_now
from .._text import ambiguous_names, skeleton
from ..detect.poison import Finding, scan_instructions, scan_prompt, scan_resource, scan_tool, tool_definition

__all__ = ["IntegritySettings", "IntegrityInterceptor", "ACTIONS", "NEW_TOOLS"]

ACTIONS = ("block", "warn")
NEW_TOOLS = ("allow", "hold")
_SERVER_KEYS = {"enabled", "action", "new_tools", "pin"}

RULE_POISONED = "integrity.poisoned"
RULE_CHANGED = "integrity.changed"
RULE_NEW = "integrity.new-tool"
RULE_REJECTED = "integrity.rejected"
RULE_DUPLICATE = "integrity.duplicate-name"  # also listed by another server (reported, not withheld)
RULE_AMBIGUOUS = "integrity.ambiguous-name"  # listed twice, or beside a look-alike, by this server (withheld)
RULE_PINNED = "integrity.pinned"

# Statuses of one listed definition. The first two pass; the others are withheld (poisoned: unless "warn").
PASSED = ("approved", "pinned")
_RULE_OF = {"poisoned": RULE_POISONED, "held": RULE_CHANGED, "held-new": RULE_NEW, "rejected": RULE_REJECTED, "ambiguous": RULE_AMBIGUOUS}


@dataclass
class ServerSettings:
    enabled: bool = True
    action: str = "block"
    new_tools: str = "allow"
    pin: bool = True


@dataclass
class IntegritySettings:
    enabled: bool = True
    action: str = "block"  # what a poisoning finding does: block (withhold) | warn (pass, flagged in audit)
    new_tools: str = "allow"  # a tool that appears on an already-pinned server: allow (pin it) | hold
    pin: bool = True  # pin definitions and hold changes (off: scan only)
    pins_dir: str | None = None  # default $MCPWRAP_HOME/pins
    servers: dict[str, dict] = field(default_factory=dict)  # per-server overrides of the keys above

    def for_server(self, server: str) -> ServerSettings:
        s = ServerSettings(self.enabled, self.action, self.new_tools, self.pin)
        for key, value in self.servers.get(server, {}).items():
            setattr(s, key, value)
        return s


def _choice(raw: dict, key: str, choices: tuple, path: tuple) -> str:
    value = expect(raw[key], str, path + (key,))
    if value not in choices:
        raise ConfigError(f"must be one of {', '.join(choices)}, not {value!r}", path=path + (key,))
    return value


def _parse_common(raw: dict, path: tuple, target: Any) -> None:
    if "enabled" in raw:
        target.enabled = expect(raw["enabled"], bool, path + ("enabled",))
    if "pin" in raw:
        target.pin = expect(raw["pin"], bool, path + ("pin",))
    if "action" in raw:
        target.action = _choice(raw, "action", ACTIONS, path)
    if "new_tools" in raw:
        target.new_tools = _choice(raw, "new_tools", NEW_TOOLS, path)


def _parse_integrity(raw: Any, path: tuple) -> IntegritySettings:
    if raw is None:
        return IntegritySettings()
    expect(raw, dict, path)
    check_keys(raw, _SERVER_KEYS | {"pins_dir", "servers"}, path)
    settings = IntegritySettings()
    _parse_common(raw, path, settings)
    if "pins_dir" in raw:
        settings.pins_dir = expect(raw["pins_dir"], str, path + ("pins_dir",))
    if "servers" in raw:
        servers = expect(raw["servers"], dict, path + ("servers",))
        for name, override in servers.items():
            p = path + ("servers", name)
            expect(override, dict, p)
            check_keys(override, _SERVER_KEYS, p)
            s = ServerSettings()
            _parse_common(override, p, s)
            settings.servers[str(name)] = {k: getattr(s, k) for k in override}
    return settings


def _how_to_review(server: str, name: str) -> str:
    return f"a person can inspect it with `mcpwrap tools review` and allow it with `mcpwrap tools approve {server} {name}`"


def _summary(findings: list[dict], limit: int = 3) -> str:
    parts = [f"{f['rule']} at {f['path']}" for f in findings[:limit]]
    if len(findings) > limit:
        parts.append(f"{len(findings) - limit} more")
    return "; ".join(parts)


def withheld_reason(server: str, name: str, status: str, findings: list[dict], *, what: str = "tool") -> str:
    label = f"{what} {name!r} of server {server!r}" if what != INSTRUCTIONS else f"the instructions of server {server!r}"
    review = _how_to_review(server, name)
    if status == "poisoned":
        return f"{label} is withheld: its definition carries hidden instructions ({_summary(findings)}); {review}"
    if status == "held":
        extra = f"; the new definition also has findings ({_summary(findings)})" if findings else ""
        return f"{label} changed its definition since it was approved, so it is held until a person reviews the change{extra}; {review}"
    if status == "held-new":
        return f"{label} is new on a server whose tools are pinned, and new tools are held for review; {review}"
    if status == "rejected":
        return f"{label} offers a definition that a person rejected (`mcpwrap tools reject`); it stays withheld"
    if status == "ambiguous":
        return (
            f"{label} is listed more than once, or beside a name that reads the same, so a call to it could run either "
            "definition; every copy is withheld until the server lists its tools without the clash"
        )
    return f"{label} is withheld"


@dataclass
class _Withheld:
    status: str
    reason: str
    rule: str
    hash: str | None = None


INTEGRITY_SECTION = Section("integrity", _parse_integrity, default=IntegritySettings, doc="poisoning scan, pinning and rug-pull holds of server definitions")


class IntegrityInterceptor(Interceptor):
    name = "integrity"
    sections = (INTEGRITY_SECTION,)

    def __init__(self, context: ChainContext, *, store: PinStore | None = None) -> None:
        super().__init__(context)
        self.server = context.session.server
        self.settings = ServerSettings()
        self._fixed_store = store is not None  # given by a caller (tests): kept whatever the policy says
        self._store: PinStore | None = store
        self._pins_dir: str | None = None
        self.withheld_tools: dict[str, _Withheld] = {}
        self.passed_tools: set[str] = set()
        self.withheld_prompts: dict[str, _Withheld] = {}
        self.ambiguous_tools: dict[str, _Withheld] = {}  # this listing's ambiguous names (until the next listing)
        self._ambiguous_skeletons: frozenset[str] = frozenset()
        self._listed: list[str] = []  # every tool name of the current listing so far, repeats included
        self.withheld_resources: dict[str, _Withheld] = {}
        self._scan_cache: dict[tuple, list[Finding]] = {}
        # The later pages of a paginated first listing belong to the same first sight of the server.
        self._first_sight_listing = False

    @classmethod
    def settings_from(cls, config: Config) -> IntegritySettings:
        return config["integrity"]

    def configure(self, settings: IntegritySettings) -> None:
        server_settings = settings.for_server(self.server)
        pins_dir = os.path.expanduser(settings.pins_dir) if settings.pins_dir else None
        if not self._fixed_store and (self._store is None or pins_dir != self._pins_dir):
            self._store = PinStore(pins_dir) if pins_dir else PinStore()
            self._pins_dir = pins_dir
        self.settings = server_settings

    @property
    def active(self) -> bool:
        return self.settings.enabled

    @property
    def store(self) -> PinStore | None:
        """The pin store, unless this server's settings turn pinning off (scan only)."""
        return self._store if self.settings.pin else None

    # --- dispatch --------------------------------------------------------------------------------------------

    def inspect(self, msg: Message) -> Verdict | None:
        if msg.direction is Direction.CLIENT_TO_SERVER:
            return self._inspect_request(msg) if msg.kind is Kind.REQUEST else None
        if msg.kind is not Kind.RESULT or msg.request is None or not isinstance(msg.result, dict):
            return None
        method = msg.request.method
        if method == "tools/list":
            return self._tools_listed(msg)
        if method in ("initialize", "server/discover"):
            return self._instructions(msg)
        if method == "prompts/list":
            return self._scan_listing(msg, "prompts", "name", scan_prompt, self.withheld_prompts, "prompt")
        if method == "resources/list":
            return self._scan_listing(msg, "resources", "uri", scan_resource, self.withheld_resources, "resource")
        if method == "resources/templates/list":
            return self._scan_listing(msg, "resourceTemplates", "uriTemplate", scan_resource, {}, "resource template")
        return None

    # --- requests for withheld things ------------------------------------------------------------------------

    def _inspect_request(self, msg: Message) -> Verdict | None:
        params = msg.params if isinstance(msg.params, dict) else {}
        if msg.method == "tools/call":
            name = msg.tool_name
            if name is None:
                return None
            ambiguous = self._ambiguous(name)
            if ambiguous is not None:
                return Verdict.block(ambiguous.reason, rule=ambiguous.rule, details={"tool": name, "status": ambiguous.status})
            if name in self.passed_tools:
                return None
            held = self.withheld_tools.get(name)
            if held is None:
                held = self._stored_hold(name)  # listed by another session, or never listed in this one
                if held is None:
                    return None
            elif self._approved_since(name, held):
                self.withheld_tools.pop(name, None)  # the s2c pump may update it concurrently
                self.passed_tools.add(name)
                return None
            return Verdict.block(held.reason, rule=held.rule, details={"tool": name, "status": held.status})
        if msg.method == "prompts/get":
            held = self.withheld_prompts.get(str(params.get("name")))
        elif msg.method == "resources/read":
            held = self.withheld_resources.get(str(params.get("uri")))
        else:
            return None
        if held is None:
            return None
        return Verdict.block(held.reason, rule=held.rule, details={"status": held.status})

    def _ambiguous(self, name: str) -> _Withheld | None:
        held = self.ambiguous_tools.get(name)
        if held is None and self._ambiguous_skeletons and skeleton(name) in self._ambiguous_skeletons:
            held = _Withheld("ambiguous", withheld_reason(self.server, name, "ambiguous", []), RULE_AMBIGUOUS)
        return held

    def _note_ambiguous(self, tools: list, first_page: bool) -> set[str]:
        """This page's names that are ambiguous in the listing so far (recorded; see the module docstring)."""
        if first_page:  # a new listing: what it lists decides again
            self._listed = []
            self.ambiguous_tools = {}
            self._ambiguous_skeletons = frozenset()
        names = [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
        self._listed += names
        bad = ambiguous_names(self._listed) if len(self._listed) > 1 else set()
        for name in bad:
            if name not in self.ambiguous_tools:
                self.ambiguous_tools[name] = _Withheld("ambiguous", withheld_reason(self.server, name, "ambiguous", []), RULE_AMBIGUOUS)
            self.passed_tools.discard(name)
            self.withheld_tools.pop(name, None)
        self._ambiguous_skeletons = frozenset(skeleton(n) for n in self.ambiguous_tools)
        return bad

    def _approved_since(self, name: str, held: _Withheld) -> bool:
        """A person approved exactly the definition this session's server offers (since it was listed)."""
        if self.store is None or held.hash is None:
            return False
        entry = self.store.load(self.server)["entries"].get(entry_key("tool", name))
        approved = entry.get("approved") if isinstance(entry, dict) else None
        return isinstance(approved, dict) and approved.get("hash") == held.hash

    def _stored_hold(self, name: str) -> _Withheld | None:
        if self.store is None:
            return None
        entry = self.store.load(self.server)["entries"].get(entry_key("tool", name))
        if not isinstance(entry, dict):
            return None
        pending = entry.get("pending")
        if pending:
            status = {"changed": "held", "new": "held-new", "poisoned": "poisoned"}.get(pending.get("reason"), "held")
            findings = pending.get("findings") or []
            if status == "poisoned" and self.settings.action == "warn":
                return None
            return _Withheld(status, withheld_reason(self.server, name, status, findings), _RULE_OF[status])
        if not entry.get("approved") and entry.get("rejected"):
            return _Withheld("rejected", withheld_reason(self.server, name, "rejected", []), RULE_REJECTED)
        return None

    # --- tools/list ------------------------------------------------------------------------------------------

    def _scan(self, kind: str, item: dict, digest: str, other_tools: dict[str, str], own_names: frozenset) -> list[Finding]:
        key = (kind, digest, tuple(sorted(other_tools.items())), own_names)
        found = self._scan_cache.get(key)
        if found is None:
            if kind == "tool":
                found = scan_tool(item, other_tools=other_tools, own_names=own_names)
            else:
                found = scan_instructions(item["instructions"], other_tools=other_tools, own_names=own_names)
            if len(self._scan_cache) > 4096:  # a server cannot grow our memory by varying its definitions
                self._scan_cache.clear()
            self._scan_cache[key] = found
        return found

    def _other_tools(self) -> dict[str, list[str]]:
        return self.store.tool_names(exclude=self.server) if self.store is not None else {}

    def _decide(self, items: list[tuple[str, str, Any, str, list[dict]]], *, next_page: bool = False) -> dict[str, str]:
        """Status of each (kind, name, definition, hash, findings), recording pins and pending changes."""
        if self.store is None:
            return {name: ("poisoned" if findings else "approved") for _, name, _, _, findings in items}
        settings = self.settings

        def change(doc: dict) -> dict[str, str]:
            entries = doc["entries"]
            first_sight = not any(isinstance(e, dict) and e.get("kind") == "tool" for e in entries.values())
            if items and items[0][0] == "tool":
                if next_page:
                    first_sight = first_sight or self._first_sight_listing
                else:
                    self._first_sight_listing = first_sight
            now = utc_now()
            statuses: dict[str, str] = {}
            for kind, name, definition, digest, findings in items:
                key = entry_key(kind, name)
                entry = entries.get(key)
                if not isinstance(entry, dict):
                    entry = entries[key] = new_entry(kind, name)
                # Day granularity: a steady-state listing must not rewrite (and fsync) the pin file every time.
                entry["last_seen"] = now[:10]
                approved = entry.get("approved") or None
                if approved and approved.get("hash") == digest:
                    if findings and approved.get("by") != "person":
                        status, reason = "poisoned", "poisoned"  # pinned before the scan knew this pattern
                    else:
                        statuses[name] = "approved"
                        continue
                elif digest in entry.get("rejected", []):
                    statuses[name] = "rejected"
                    continue
                elif approved:
                    status, reason = "held", "changed"
                elif findings:
                    status, reason = "poisoned", "poisoned"
                elif first_sight or settings.new_tools == "allow":
                    entry["approved"] = {"hash": digest, "definition": definition, "at": now, "by": "first-use"}
                    statuses[name] = "pinned"
                    continue
                else:
                    status, reason = "held-new", "new"
                pending = entry.get("pending") or {}
                if pending.get("hash") != digest:
                    entry["pending"] = {"hash": digest, "definition": definition, "at": now, "reason": reason, "findings": findings}
                statuses[name] = status
            return statuses

        return self.store.update(self.server, change, optimistic=True)

    def _tools_listed(self, msg: Message) -> Verdict | None:
        result = msg.result
        tools = result.get("tools")
        if not isinstance(tools, list):
            return None
        request_params = msg.request.params if msg.request is not None else None
        params = request_params if isinstance(request_params, dict) else {}
        ambiguous = self._note_ambiguous(tools, first_page="cursor" not in params)
        others = self._other_tools()
        other_tools = {name: ", ".join(servers) for name, servers in others.items()}
        own_names = frozenset(str(t.get("name", "")).casefold() for t in tools if isinstance(t, dict))
        items = []
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or tool["name"] in ambiguous:
                continue
            definition = tool_definition(tool)
            digest = definition_hash(definition)
            findings = [f.to_dict() for f in self._scan("tool", tool, digest, other_tools, own_names)]
            items.append(("tool", tool["name"], definition, digest, findings))
        statuses = self._decide(items, next_page="cursor" in params)
        duplicates = {name: others[name] for name in statuses if name in others}
        if duplicates and self.store is not None:
            def note(doc: dict) -> None:
                for name, servers in duplicates.items():
                    entry = doc["entries"].get(entry_key("tool", name))
                    if isinstance(entry, dict):
                        entry["also_on"] = sorted(servers)
            self.store.update(self.server, note)

        withheld: list[str] = sorted({t["name"] for t in tools if isinstance(t, dict) and t.get("name") in ambiguous})
        report: list[dict] = [{"tool": name, "status": "ambiguous"} for name in withheld]
        flagged: list[str] = []
        for _kind, name, _definition, digest, findings in items:
            status = statuses[name]
            if status in PASSED:
                self.passed_tools.add(name)
                self.withheld_tools.pop(name, None)
                continue
            if status == "poisoned" and self.settings.action == "warn":
                flagged.append(name)
                self.passed_tools.add(name)
                report.append({"tool": name, "status": status, "action": "warn", "findings": findings})
                continue
            self.passed_tools.discard(name)
            self.withheld_tools[name] = _Withheld(status, withheld_reason(self.server, name, status, findings), _RULE_OF[status], digest)
            withheld.append(name)
            report.append({"tool": name, "status": status, "findings": findings})
        pinned = sorted(n for n, s in statuses.items() if s == "pinned")
        details: dict[str, Any] = {}
        if report:
            details["definitions"] = report
        if ambiguous:
            details["ambiguous_names"] = sorted(ambiguous)
        if duplicates:
            details["duplicate_names"] = duplicates
        if pinned:
            details["pinned"] = pinned
        if withheld:
            hidden = set(withheld)
            kept = [t for t in tools if not (isinstance(t, dict) and t.get("name") in hidden)]
            envelope = dict(msg.envelope)
            envelope["result"] = {**result, "tools": kept}
            why = {**self.withheld_tools, **self.ambiguous_tools}
            first = why[withheld[0]]
            copies = len(tools) - len(kept)
            reason = f"withheld {copies} tool definition(s) from the listing: " + "; ".join(f"{n} ({why[n].status})" for n in withheld)
            if any(why[n].status != "ambiguous" for n in withheld):
                reason += f". {_how_to_review(self.server, next(n for n in withheld if why[n].status != 'ambiguous'))}"
            return Verdict.modify(envelope, {"withheld_tools": withheld}, reason=reason, rule=first.rule, details=details)
        if flagged:
            return Verdict(Action.PASS, f"poisoning findings in {', '.join(flagged)} (action: warn, passed)", RULE_POISONED, details=details)
        if duplicates:
            return Verdict(Action.PASS, "tool names also exposed by other servers: " + ", ".join(sorted(duplicates)), RULE_DUPLICATE, details=details)
        if pinned:
            return Verdict(Action.PASS, f"pinned {len(pinned)} new definition(s) on first use", RULE_PINNED, details=details)
        return None

    # --- server instructions ---------------------------------------------------------------------------------

    def _instructions(self, msg: Message) -> Verdict | None:
        result = msg.result
        text = result.get("instructions")
        if not isinstance(text, str):
            return None
        digest = definition_hash(text)
        others = {name: ", ".join(servers) for name, servers in self._other_tools().items()}
        findings = [f.to_dict() for f in self._scan(INSTRUCTIONS, {"instructions": text}, digest, others, frozenset())]
        status = self._decide([(INSTRUCTIONS, INSTRUCTIONS, text, digest, findings)])[INSTRUCTIONS]
        if status in PASSED:
            return None
        details = {"definitions": [{"instructions": True, "status": status, "findings": findings}]}
        if status == "poisoned" and self.settings.action == "warn":
            return Verdict(Action.PASS, "poisoning findings in the server instructions (action: warn, passed)", RULE_POISONED, details=details)
        envelope = dict(msg.envelope)
        envelope["result"] = {k: v for k, v in result.items() if k != "instructions"}
        reason = withheld_reason(self.server, INSTRUCTIONS, status, findings, what=INSTRUCTIONS)
        return Verdict.modify(envelope, {"withheld": ["instructions"]}, reason=reason, rule=_RULE_OF[status], details=details)

    # --- prompts and resources (scanned, not pinned) -----------------------------------------------------------

    def _scan_listing(self, msg: Message, field_name: str, id_key: str, scanner: Any, withheld: dict, what: str) -> Verdict | None:
        result = msg.result
        items = result.get(field_name)
        if not isinstance(items, list):
            return None
        others = {name: ", ".join(servers) for name, servers in self._other_tools().items()}
        report: list[dict] = []
        removed: list[str] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            ident = str(item.get(id_key))
            findings = [f.to_dict() for f in scanner(item, other_tools=others)]
            if not findings:
                withheld.pop(ident, None)
                continue
            report.append({what.replace(" ", "_"): ident, "status": "poisoned", "findings": findings})
            if self.settings.action == "block":
                removed.append(ident)
                reason = f"{what} {ident!r} of server {self.server!r} is withheld: its definition carries hidden instructions ({_summary(findings)})"
                withheld[ident] = _Withheld("poisoned", reason, RULE_POISONED)
        if not report:
            return None
        details = {"definitions": report}
        if not removed:
            return Verdict(Action.PASS, f"poisoning findings in {len(report)} {what}(s) (action: warn, passed)", RULE_POISONED, details=details)
        envelope = dict(msg.envelope)
        envelope["result"] = {**result, field_name: [i for i in items if not (isinstance(i, dict) and str(i.get(id_key)) in removed)]}
        reason = f"withheld {len(removed)} poisoned {what}(s): " + ", ".join(removed)
        return Verdict.modify(envelope, {f"withheld_{field_name}": removed}, reason=reason, rule=RULE_POISONED, details=details)
