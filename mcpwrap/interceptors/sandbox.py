"""Sandbox refusals reported in results: a tool result that says the server was refused a file the sandbox
protects (``EACCES: permission denied, open '/home/me/.ssh/id_rsa'``) is recorded like one seen on the
server's stderr, so a person can widen the profile knowingly (``sandbox-denied`` audit records).

Observe only: it never changes or blocks a message (what the model reads is judged by the other
interceptors). Present in the chain only when the server was started in a sandbox that recognises refusals.
"""

from __future__ import annotations

from collections.abc import Callable

from .._chain import ChainContext, Interceptor, Outcome
from .._message import Direction, Kind, Message

__all__ = ["SandboxDenials"]

SCANNED_RESULTS = ("tools/call", "resources/read", "prompts/get")
MAX_SCANNED_CHARS = 1 << 20  # a refusal message is short; a result's first MiB of text is enough to find one


class SandboxDenials(Interceptor):
    name = "sandbox"

    def __init__(self, context: ChainContext, scan: Callable[[str, str], None]) -> None:
        super().__init__(context)
        self.scan = scan

    def observe(self, msg: Message, outcome: Outcome) -> None:
        if msg.direction is not Direction.SERVER_TO_CLIENT or msg.request is None:
            return
        if msg.request.method not in SCANNED_RESULTS or msg.kind not in (Kind.RESULT, Kind.ERROR):
            return
        budget = MAX_SCANNED_CHARS
        stack: list = [msg.envelope.get("result") if msg.kind is Kind.RESULT else msg.envelope.get("error")]
        while stack and budget > 0:
            v = stack.pop()
            if isinstance(v, str):
                self.scan(v[:budget], "result")  # returns at once unless the text names a refusal
                budget -= len(v)
            elif isinstance(v, dict):
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)
