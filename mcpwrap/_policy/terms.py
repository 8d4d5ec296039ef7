"""The terms every policy section is written in: modes, actions, directions, name lists and name globs.

The lowest module of the policy package (it imports only the config helpers and :mod:`.normalize`). The rule
compiler, the section parsers, the rate limits and the engine all read a policy file with these, so there is
one spelling of a mode, one reading of ``tools: echo`` (a list of one entry), and one matcher of name globs
(:class:`NameSet`) for methods, tools, servers, subjects and roles wherever they appear.
"""

from __future__ import annotations

from typing import Any

from .._config import expect
from .._errors import ConfigError
from .normalize import clean_text, compile_glob

__all__ = ["ACTIONS", "MODES", "DIRECTIONS", "one_of", "str_list", "NameSet"]

ACTIONS = ("allow", "deny", "approve")
MODES = ("enforce", "audit")
DIRECTIONS = ("c2s", "s2c")


def one_of(raw: Any, choices: tuple, path: tuple) -> str:
    """A string that must be one of ``choices``."""
    value = expect(raw, str, path)
    if value not in choices:
        raise ConfigError(f"must be one of {', '.join(choices)} (got {value!r})", path=path)
    return value


def str_list(raw: Any, path: tuple, *, allow_empty: bool = False) -> list[str]:
    """A list of strings; one string stands for a list of one (``tools: echo`` = ``tools: [echo]``)."""
    if isinstance(raw, str):
        raw = [raw]
    expect(raw, list, path, "list")
    if not raw and not allow_empty:
        raise ConfigError("must list at least one entry", path=path)
    for i, item in enumerate(raw):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ConfigError(f"expected a string, got {type(item).__name__}", path=path + (i,))
    return [str(item) for item in raw]


class NameSet:
    """A set of name globs. Exact names are a set lookup; only real globs are tried one by one.

    With ``fold`` (methods and tools, unless a rule says ``case_sensitive: true``) names and patterns are
    compared as NFKC text without invisible characters, casefolded; without it (identities: servers,
    subjects, roles) exactly as written.
    """

    __slots__ = ("patterns", "exact", "globs", "fold")

    def __init__(self, patterns: list[str], fold: bool) -> None:
        self.patterns = tuple(patterns)
        self.fold = fold
        self.exact: set[str] = set()
        self.globs: list[Any] = []
        for p in patterns:
            p = clean_text(p)
            if fold:
                p = p.casefold()
            if "*" in p or "?" in p:
                self.globs.append(compile_glob(p))
            else:
                self.exact.add(p)

    def __call__(self, name: str | None) -> bool:
        if not name:
            return False
        if self.fold:
            name = clean_text(name).casefold()
        if name in self.exact:
            return True
        for g in self.globs:
            if g(name):
                return True
        return False

    def which(self, name: str | None) -> str | None:
        """The first pattern that matches (for explanations)."""
        if not name:
            return None
        for p in self.patterns:
            if NameSet([p], self.fold)(name):
                return p
        return None
