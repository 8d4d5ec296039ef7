"""Exit statuses of every command, in one table: the ``--help`` epilogs and docs/cli.md are both made from it.

The convention, shared by every command except ``wrap`` (which passes on the wrapped server's status)::

    0  done; the answer is "yes" (intact, valid, nothing failed)
    1  the command ran and the answer is "no", or the action failed (damaged log, invalid policy, a failed
       expectation, nothing to approve, a configuration file that could not be changed — and then none was)
    2  usage: a bad option or argument, or input that cannot be used at all (a missing or foreign file)

A test walks the command tree and checks that every command has an entry here and that its help shows it,
and that docs/cli.md holds the same table (:func:`markdown_table`).
"""

from __future__ import annotations

from .._wrapargs import WRAP_EXIT_STATUSES

__all__ = ["OK", "FAILED", "USAGE", "EXIT_CODES", "epilog", "markdown_table"]

OK = 0
FAILED = 1
USAGE = 2

_USAGE_TEXT = "a bad option or argument"

# command path (as typed after `mcpwrap`) -> [(status, meaning)], in the order help shows them
EXIT_CODES: dict[str, list[tuple[str, str]]] = {
    "": [("0", "success"), ("1", "the command's check or action failed"), ("2", "usage error: " + _USAGE_TEXT)],
    "wrap": list(WRAP_EXIT_STATUSES),
    "version": [("0", "printed")],
    "enable": [
        ("0", "done (also when there was nothing to wrap)"),
        ("1", "a configuration file or the policy could not be read or written; no file was changed"),
        ("2", _USAGE_TEXT),
    ],
    "disable": [
        ("0", "done (also when nothing was wrapped)"),
        ("1", "a configuration file could not be read or written; no file was changed"),
        ("2", _USAGE_TEXT),
    ],
    "status": [
        ("0", "listed"),
        ("1", "a configuration file could not be read (the others are listed)"),
        ("2", _USAGE_TEXT),
    ],
    "dashboard": [("0", "ended (Ctrl-C, or after --once)"), ("2", _USAGE_TEXT + ", or no log to show")],
    "approvals": [("0", "listed"), ("1", "the approval queue cannot be read")],
    "approve": [
        ("0", "approved"),
        ("1", "not approved: not run at a terminal, declined, unknown or already decided ID"),
        ("2", _USAGE_TEXT),
    ],
    "deny": [("0", "denied"), ("1", "unknown or already decided ID"), ("2", _USAGE_TEXT)],
    "policy": [("0", "success"), ("1", "the check failed"), ("2", _USAGE_TEXT)],
    "policy init": [("0", "written"), ("1", "the file exists (use --force)"), ("2", _USAGE_TEXT)],
    "policy validate": [("0", "the policy is valid"), ("1", "the policy has errors (each printed)"), ("2", _USAGE_TEXT)],
    "policy test": [
        ("0", "evaluated; every --expect and scenario expectation held"),
        ("1", "an expectation failed"),
        ("2", "the policy is invalid, the log or scenarios cannot be read, or " + _USAGE_TEXT),
    ],
    "audit": [("0", "success"), ("1", "the log is damaged, or the command failed"), ("2", _USAGE_TEXT + ", or unusable input")],
    "audit verify": [
        ("0", "intact"),
        ("1", "damaged (each problem printed with file and line)"),
        ("2", "cannot be verified: missing file, not an audit log, key needed, or " + _USAGE_TEXT),
    ],
    "audit tail": [("0", "printed (or followed until Ctrl-C)"), ("2", "no such log, or " + _USAGE_TEXT)],
    "audit stats": [("0", "printed"), ("2", "no such log, or " + _USAGE_TEXT)],
    "audit export": [("0", "written"), ("2", "no such log, or " + _USAGE_TEXT)],
    "audit init-key": [
        ("0", "key written (and the log's existing records sealed into a segment before it)"),
        ("1", "a key exists (use --force), or the key or the log cannot be written"),
        ("2", _USAGE_TEXT),
    ],
    "sandbox": [("0", "shown"), ("2", "the policy is invalid, or " + _USAGE_TEXT)],
    "sandbox check": [("0", "shown (also when the kernel supports little or nothing)"), ("2", "the policy is invalid, or " + _USAGE_TEXT)],
    "tools": [("0", "success"), ("1", "the pin store cannot be used, or nothing matched"), ("2", _USAGE_TEXT)],
    "tools list": [("0", "listed"), ("2", _USAGE_TEXT)],
    "tools review": [("0", "shown (also when nothing is held)"), ("1", "the pin store cannot be read"), ("2", _USAGE_TEXT)],
    "tools approve": [
        ("0", "approved (or nothing held, with --all)"),
        ("1", "no held definition of that tool, or the pin store cannot be written"),
        ("2", _USAGE_TEXT),
    ],
    "tools reject": [
        ("0", "rejected (or nothing held, with --all)"),
        ("1", "no held definition of that tool, or the pin store cannot be written"),
        ("2", _USAGE_TEXT),
    ],
}


def epilog(command: str) -> str:
    """The ``Exit status`` paragraph of a command's ``--help`` (one line per status)."""
    rows = EXIT_CODES[command]
    width = max(len(code) for code, _ in rows)
    # click rewraps epilog paragraphs; \b before a paragraph keeps its lines as written
    return "\b\nExit status:\n" + "\n".join(f"  {code.ljust(width)}  {meaning}" for code, meaning in rows)


def markdown_table() -> str:
    """Every command's exit statuses as the Markdown table docs/cli.md carries."""
    lines = ["| command | status | meaning |", "|---|---|---|"]
    for command, rows in EXIT_CODES.items():
        name = f"`mcpwrap {command}`" if command else "`mcpwrap` (any command not listed)"
        for i, (code, meaning) in enumerate(rows):
            lines.append(f"| {name if i == 0 else ''} | {code} | {meaning} |")
    return "\n".join(lines) + "\n"
