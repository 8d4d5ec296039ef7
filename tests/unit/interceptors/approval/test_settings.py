"""The approval section of the policy file, and one call's requirement checked against it."""

from __future__ import annotations

import pytest

from mcpwrap._errors import ConfigError
from mcpwrap._message import ApprovalNeed
from mcpwrap.interceptors import parse_policy as parse_config
from mcpwrap.interceptors.approval import DEFAULT_MAX_WAIT_WITHOUT_PROGRESS, ApprovalRequirement, ApprovalSettings


def test_requirement_defaults():
    req = ApprovalRequirement(ApprovalNeed(rule="r", reason=""), ApprovalSettings())  # a rule's defaults
    assert req.timeout == 120.0 and req.on_timeout == "deny" and req.remember == ["once", "session", "always"]
    assert req.channels == ["elicitation", "stateless", "terminal"]
    assert ApprovalRequirement(ApprovalNeed(rule="r", reason="", remember=("always",)), ApprovalSettings()).remember == ["once", "always"]


def test_settings_section_parses_and_defaults():
    config = parse_config({"approval": {"default_timeout": 60, "progress_interval": 5, "desktop_notification": True, "queue": "~/q"}})
    s = config["approval"]
    assert (s.default_timeout, s.progress_interval, s.desktop_notification) == (60.0, 5.0, True)
    assert s.queue.endswith("/q") and not s.queue.startswith("~")
    assert parse_config({})["approval"].max_wait_without_progress == DEFAULT_MAX_WAIT_WITHOUT_PROGRESS


@pytest.mark.parametrize(
    "raw, where",
    [
        ({"approval": {"timeout": 5}}, "approval.timeout"),
        ({"approval": {"default_timeout": 0}}, "approval.default_timeout"),
        ({"approval": {"progress_interval": "10s"}}, "approval.progress_interval"),
        ({"approval": {"desktop_notification": "yes"}}, "approval.desktop_notification"),
        ({"approval": []}, "approval"),
    ],
)
def test_settings_errors_name_the_key(raw, where):
    with pytest.raises(ConfigError) as err:
        parse_config(raw, file="p.yaml")
    assert where in str(err.value)
