"""Policy sections with per-server and per-tool overrides (used by the schema, secrets and injection sections).

Shape shared by those sections::

    secrets:
      <key>: <value>              # the defaults
      servers:
        <server name>:
          <key>: <value>          # overrides for one wrapped server (its --name)
          tools:
            <tool name>: {<key>: <value>}
      tools:
        <tool name>: {<key>: <value>}   # overrides for a tool of any server

Resolution for a message: defaults ← ``tools.<tool>`` ← ``servers.<server>`` ← ``servers.<server>.tools.<tool>``
(the most specific wins). Mapping-valued keys (e.g. ``detectors``) merge key by key instead of replacing.
Resolved settings are cached per (server, tool).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .._chain import ChainContext, Interceptor
from .._config import Config, Section, check_keys, expect
from .._errors import ConfigError

__all__ = ["Scoped", "ScopedInterceptor", "parse_scoped", "choice", "boolean", "number"]

FieldParser = Callable[[Any, tuple], Any]


def choice(*options: str) -> FieldParser:
    def parse(raw: Any, path: tuple) -> str:
        value = expect(raw, str, path)
        if value not in options:
            raise ConfigError(f"must be one of {', '.join(options)} (got {value!r})", path=path)
        return value

    return parse


def boolean(raw: Any, path: tuple) -> bool:
    return expect(raw, bool, path, "true or false")


def number(raw: Any, path: tuple) -> float:
    return float(expect(raw, (int, float), path, "a number"))


class Scoped:
    """Defaults plus overrides; ``resolve(server, tool)`` gives the effective settings as a dict."""

    def __init__(self, base: dict, servers: dict | None = None, tools: dict | None = None, server_tools: dict | None = None):
        self.base = base
        self.servers = servers or {}
        self.tools = tools or {}
        self.server_tools = server_tools or {}
        self._cache: dict[tuple, dict] = {}

    def resolve(self, server: str | None = None, tool: str | None = None) -> dict:
        key = (server, tool)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        out = dict(self.base)
        layers = [self.tools.get(tool) if tool else None, self.servers.get(server) if server else None]
        if server and tool:
            layers.append(self.server_tools.get((server, tool)))
        for layer in layers:
            if not layer:
                continue
            for k, v in layer.items():
                if isinstance(v, dict) and isinstance(out.get(k), dict):
                    out[k] = {**out[k], **v}
                else:
                    out[k] = v
        if len(self._cache) < 4096:
            self._cache[key] = out
        return out

    def __getitem__(self, key: str) -> Any:
        return self.base[key]

    @property
    def enabled_anywhere(self) -> bool:
        """Whether the concern is on for some server or tool (else its interceptor can sit out the chain)."""
        return bool(self.base.get("enabled")) or bool(self.servers or self.tools or self.server_tools)


class ScopedInterceptor(Interceptor):
    """An interceptor whose settings are one :class:`Scoped` section (schema, secrets, injection)."""

    section: ClassVar[Section]

    def __init__(self, context: ChainContext) -> None:
        super().__init__(context)
        self.settings: Scoped = type(self).section.default()

    @classmethod
    def settings_from(cls, config: Config) -> Scoped:
        return config[cls.section.key]

    @property
    def active(self) -> bool:
        return self.settings.enabled_anywhere


def _parse_layer(raw: Any, path: tuple, fields: dict[str, FieldParser]) -> dict:
    expect(raw, dict, path)
    check_keys(raw, fields, path)
    return {k: fields[k](v, path + (k,)) for k, v in raw.items()}


def parse_scoped(raw: Any, path: tuple, fields: dict[str, FieldParser], defaults: Callable[[], dict]) -> Scoped:
    """Parse a section mapping of ``fields`` plus ``servers``/``tools`` override blocks."""
    if raw is None:
        raw = {}
    expect(raw, dict, path)
    check_keys(raw, {*fields, "servers", "tools"}, path)
    base = defaults()
    for k, v in raw.items():
        if k in fields:
            parsed = fields[k](v, path + (k,))
            base[k] = {**base[k], **parsed} if isinstance(parsed, dict) and isinstance(base.get(k), dict) else parsed
    tools: dict = {}
    servers: dict = {}
    server_tools: dict = {}
    if "tools" in raw:
        expect(raw["tools"], dict, path + ("tools",))
        for name, layer in raw["tools"].items():
            tools[str(name)] = _parse_layer(layer, path + ("tools", name), fields)
    if "servers" in raw:
        expect(raw["servers"], dict, path + ("servers",))
        for sname, layer in raw["servers"].items():
            lpath = path + ("servers", sname)
            expect(layer, dict, lpath)
            check_keys(layer, {*fields, "tools"}, lpath)
            servers[str(sname)] = {k: fields[k](v, lpath + (k,)) for k, v in layer.items() if k != "tools"}
            if "tools" in layer:
                expect(layer["tools"], dict, lpath + ("tools",))
                for tname, tlayer in layer["tools"].items():
                    server_tools[(str(sname), str(tname))] = _parse_layer(tlayer, lpath + ("tools", tname), fields)
    return Scoped(base, servers, tools, server_tools)
