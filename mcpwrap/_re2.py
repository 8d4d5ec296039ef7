"""Linear-time regular expressions for policy patterns (RE2).

A pattern in a policy file, or an argument sent by a client, must never be able to hang the wrapper. Python's
``re`` backtracks (``(a+)+$`` on 30 characters takes seconds); RE2 runs in time linear in the input, rejects
constructs that cannot be matched that way (backreferences, lookaround), and bounds the memory a compiled
pattern may take. It is also the syntax mcpgw's Go ``regexp`` uses, so mcpgw patterns mean the same here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compile_regex", "RegexError", "MAX_PATTERN_MEMORY"]

MAX_PATTERN_MEMORY = 8 << 20  # bytes one compiled pattern may use; a larger one is refused at load time


class RegexError(ValueError):
    pass


def compile_regex(pattern: str, *, case_sensitive: bool = True) -> Any:
    """Compile with RE2; raise :class:`RegexError` (with RE2's reason) for a pattern RE2 refuses."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr itself
    options.max_mem = MAX_PATTERN_MEMORY
    options.case_sensitive = case_sensitive
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RegexError(str(reason)) from None
    except (TypeError, ValueError) as exc:
        raise RegexError(str(exc)) from None
