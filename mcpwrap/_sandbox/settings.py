"""The ``sandbox:`` policy section: what the wrapped server may reach, with per-server overrides.

    sandbox:
      enabled: true            # false: run servers unsandboxed (said on stderr and in the audit log)
      require: false           # true: refuse to start a server when part of its sandbox cannot be applied
      network: allow           # allow | deny | {hosts: [api.github.com, "*.npmjs.org", "10.0.0.7:5432"]}
      unix_sockets: deny       # allow: let the server connect to local sockets (ssh-agent, D-Bus, docker…)
      allow_read: []           # more paths to read (may name a path inside a default credential store)
      allow_write: []          # more paths to read and write
      deny: []                 # more paths neither read nor written
      deny_write: []           # more paths read only
      servers:                 # per server (the --name, else the command's file name)
        github: {network: {hosts: [api.github.com]}}

A server's entry overrides the keys it names; its lists are added to the top-level lists. The parser is in the
style of the other sections (``expect``/``check_keys``, a :class:`ConfigError` with the key path).
"""

from __future__ import annotations

from typing import Any

from .._config import Section, check_keys, expect
from .._errors import ConfigError
from ._values import Frozen

__all__ = ["SandboxSettings", "ServerSandbox", "parse_sandbox", "SANDBOX_SECTION", "NETWORK_MODES", "HostRule", "parse_host"]

NETWORK_MODES = ("allow", "deny", "hosts")
_LIST_KEYS = ("allow_read", "allow_write", "deny", "deny_write")
_SCALAR_KEYS = ("enabled", "require", "network", "unix_sockets")
_LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


class HostRule(Frozen):
    """One ``hosts`` entry: a name (``*.`` for any subdomain), an IP address or network, and a port or any.

    ``host`` is lower-case, without trailing dot, IDNA-encoded; or an IP address / network in canonical form.
    """

    __slots__ = ("host", "port", "wildcard")
    _defaults = {"port": None, "wildcard": False}
    host: str
    port: int | None
    wildcard: bool

    def __str__(self) -> str:
        text = ("*." if self.wildcard else "") + self.host
        if ":" in self.host and not self.wildcard:
            text = f"[{text}]"
        return text + (f":{self.port}" if self.port else "")


class ServerSandbox(Frozen):
    """The effective settings for one server (top level merged with its ``servers`` entry)."""

    __slots__ = ("enabled", "require", "network", "hosts", "unix_sockets", "allow_read", "allow_write", "deny", "deny_write")
    _defaults = {
        "enabled": True, "require": False, "network": "allow", "hosts": (), "unix_sockets": False,
        "allow_read": (), "allow_write": (), "deny": (), "deny_write": (),
    }
    enabled: bool
    require: bool
    network: str  # allow | deny | hosts
    hosts: tuple[HostRule, ...]
    unix_sockets: bool
    allow_read: tuple[str, ...]
    allow_write: tuple[str, ...]
    deny: tuple[str, ...]
    deny_write: tuple[str, ...]


class SandboxSettings(Frozen):
    """The whole section: the top-level settings and each server's overrides (name -> parsed keys)."""

    __slots__ = ("base", "servers")
    _defaults = {"base": ServerSandbox, "servers": dict}
    base: ServerSandbox
    servers: dict[str, dict[str, Any]]

    def __hash__(self) -> int:  # servers is a dict
        return hash(self.base)

    def for_server(self, name: str | None) -> ServerSandbox:
        over = self.servers.get(name or "")
        if not over:
            return self.base
        merged = {k: v for k, v in over.items() if k not in _LIST_KEYS}
        for key in _LIST_KEYS:
            if key in over:
                merged[key] = getattr(self.base, key) + over[key]
        return self.base.replace(**merged)


def parse_host(text: str, path: tuple) -> HostRule:
    """``name``, ``*.name``, ``name:port``, an IPv4/IPv6 address (``[v6]:port``) or network (``10.0.0.0/8``)."""
    import ipaddress

    raw = text.strip()
    port: int | None = None
    if raw.startswith("["):
        inner, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigError(f"not a host: {text!r}", path=path)
        raw, port_text = inner, rest[1:]
    elif raw.count(":") == 1:
        raw, port_text = raw.split(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"not a port: {port_text!r}", path=path)
        port = int(port_text)
    try:
        if "/" in raw:
            return HostRule(str(ipaddress.ip_network(raw, strict=False)), port)
        return HostRule(str(ipaddress.ip_address(raw)), port)
    except ValueError:
        pass
    wildcard = raw.startswith("*.")
    name = raw[2:] if wildcard else raw
    name = name.rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii") if name else name
    except UnicodeError:
        raise ConfigError(f"not a host name: {text!r}", path=path) from None
    if not name or any(not label or len(label) > 63 or not set(label) <= _LABEL_CHARS for label in name.split(".")):
        raise ConfigError(f"not a host name: {text!r} (use name, *.name, name:port, an IP address or network)", path=path)
    return HostRule(name, port, wildcard)


def _paths(raw: Any, path: tuple) -> tuple[str, ...]:
    expect(raw, list, path, "a list of paths")
    out = []
    for i, item in enumerate(raw):
        expect(item, str, path + (i,), "a path")
        if not item.strip():
            raise ConfigError("empty path", path=path + (i,))
        if not (item.startswith(("/", "~", "$"))):
            raise ConfigError(f"{item!r}: paths must be absolute, or start with ~ or $VAR", path=path + (i,))
        out.append(item)
    return tuple(out)


def _parse_fields(raw: dict, path: tuple, *, top: bool) -> dict[str, Any]:
    allowed = set(_SCALAR_KEYS) | set(_LIST_KEYS) | ({"servers"} if top else set())
    check_keys(raw, allowed, path)
    out: dict[str, Any] = {}
    for key in ("enabled", "require"):
        if key in raw:
            out[key] = expect(raw[key], bool, path + (key,), "true or false")
    if "unix_sockets" in raw:
        value = expect(raw["unix_sockets"], str, path + ("unix_sockets",), "allow or deny")
        if value not in ("allow", "deny"):
            raise ConfigError("must be allow or deny", path=path + ("unix_sockets",))
        out["unix_sockets"] = value == "allow"
    if "network" in raw:
        value = raw["network"]
        npath = path + ("network",)
        if isinstance(value, dict):
            check_keys(value, {"hosts"}, npath)
            if "hosts" not in value:
                raise ConfigError("expected hosts: [...]", path=npath)
            hosts = expect(value["hosts"], list, npath + ("hosts",), "a list of hosts")
            rules = []
            for i, h in enumerate(hosts):
                expect(h, str, npath + ("hosts", i), "a host")
                rules.append(parse_host(h, npath + ("hosts", i)))
            out["network"], out["hosts"] = "hosts", tuple(rules)
        else:
            expect(value, str, npath, "allow, deny or {hosts: [...]}")
            if value not in ("allow", "deny"):
                raise ConfigError("must be allow, deny or {hosts: [...]}", path=npath)
            out["network"], out["hosts"] = value, ()
    for key in _LIST_KEYS:
        if key in raw:
            out[key] = _paths(raw[key], path + (key,))
    return out


def parse_sandbox(raw: Any, path: tuple = ("sandbox",)) -> SandboxSettings:
    if raw is None:
        return SandboxSettings()
    expect(raw, dict, path)
    fields = _parse_fields(raw, path, top=True)
    servers: dict[str, dict[str, Any]] = {}
    if "servers" in raw:
        spath = path + ("servers",)
        expect(raw["servers"], dict, spath, "a mapping of server names")
        for name, entry in raw["servers"].items():
            expect(name, str, spath, "server names")
            expect(entry, dict, spath + (name,))
            servers[name] = _parse_fields(entry, spath + (name,), top=False)
    return SandboxSettings(base=ServerSandbox(**fields), servers=servers)


SANDBOX_SECTION = Section(
    key="sandbox",
    parse=parse_sandbox,
    default=SandboxSettings,
    doc="the kernel sandbox of the wrapped server: files, network, local sockets (docs/sandbox.md)",
)
