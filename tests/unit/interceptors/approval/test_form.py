"""What a person is shown about a held call, and what their answer means."""

from __future__ import annotations

import pytest
from approval_factories import LEGACY_ELICIT, NOTE, call, need, session

from mcpwrap.interceptors.approval import ApprovalRequirement, ApprovalSettings, summarize_arguments
from mcpwrap.interceptors.approval.form import elicitation_choice, elicitation_params


def test_form_shows_server_tool_arguments_rule_and_remember_choices():
    sess = session(**LEGACY_ELICIT)
    req = ApprovalRequirement(need(NOTE), ApprovalSettings())
    params = elicitation_params(call(sess), req, 30, modern_form=True)
    assert "'files'" in params["message"] and "Tool: write" in params["message"]
    assert 'path: "/tmp/x"' in params["message"] and "confirm — writes files" in params["message"]
    assert params["mode"] == "form"
    props = params["requestedSchema"]["properties"]
    assert props["decision"]["enum"] == ["approve", "deny"] and props["remember"]["enum"] == ["once", "session"]
    assert "mode" not in elicitation_params(call(sess), req, 30, modern_form=False)  # 2025-06-18 has no mode


def test_summary_is_bounded():
    text = summarize_arguments({f"k{i}": "x" * 1000 for i in range(50)})
    assert len(text) < 2500 and "more" in text and "(1002 characters)" in text
    assert summarize_arguments(None) == "(no arguments)"


@pytest.mark.parametrize(
    "result, expected",
    [
        ({"action": "accept", "content": {"decision": "approve"}}, ("approve", "once", "chose approve")),
        ({"action": "accept", "content": {"decision": "approve", "remember": "session"}}, ("approve", "session", "chose approve")),
        ({"action": "accept", "content": {"decision": "approve", "remember": "always"}}, ("approve", "once", "chose approve")),  # not offered
        ({"action": "accept", "content": {"decision": "APPROVE"}}, ("deny", "once", "chose deny")),
        ({"action": "accept"}, ("deny", "once", "chose deny")),
        ({"action": "decline"}, ("deny", "once", "decline")),
        ({"action": "cancel"}, ("deny", "once", "cancel")),
        ({"action": "approve"}, ("deny", "once", "invalid answer")),
        (None, ("deny", "once", "invalid answer")),
    ],
)
def test_elicitation_answers(result, expected):
    assert elicitation_choice(result, ["once", "session"]) == expected


@pytest.mark.parametrize(
    "tool, args",
    [
        ("write\n\nRule: pre-approved", {"path": "/tmp/x"}),
        ("write", {"path\nRule: safe": "x"}),
        ("write", {"path": "/tmp/\u202eexe.txt"}),  # a right-to-left override hides the real name
        ("write\u200b", {"path": "x"}),
    ],
)
def test_the_form_cannot_be_forged_by_names_or_values(tool, args):
    sess = session(**LEGACY_ELICIT)
    req = ApprovalRequirement(need(NOTE), ApprovalSettings())
    message = elicitation_params(call(sess, tool=tool, args=args), req, 30, modern_form=True)["message"]
    assert sum(line.startswith("Rule:") for line in message.splitlines()) == 1
    assert all(line.isprintable() for line in message.splitlines())
