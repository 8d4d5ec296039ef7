from __future__ import annotations

import pytest

from mcpwrap._sandbox import wrap
from mcpwrap._sandbox.settings import SandboxSettings
from mcpwrap.interceptors import parse_policy


def test_a_policy_that_cannot_hold_sandbox_settings_is_not_parsed_before_the_spawn(tmp_path, monkeypatch):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: v1\nrules:\n  - {name: x, action: allow, match: {tools: ['*']}}\n# sandbox: {network: deny}\n")
    import yaml

    monkeypatch.setattr(yaml, "load", lambda *a, **k: pytest.fail("parsed although nothing could concern the sandbox"))
    settings, raw = wrap.spawn_settings(str(policy))
    assert settings == SandboxSettings() and raw == {}


@pytest.mark.parametrize(
    "text",
    [
        "sandbox: {network: deny}\n",
        '"sandbox": {network: deny}\n',
        "? sandbox\n: {network: deny}\n",
        '"\\x73andbox": {network: deny}\n',  # an escape that spells the key
    ],
)
def test_every_spelling_of_the_section_is_read_before_the_spawn(tmp_path, text):
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    settings, _ = wrap.spawn_settings(str(policy))
    assert settings.for_server("x").network == "deny"


def test_relocated_mcpwrap_files_are_protected(tmp_path):
    raw = {"audit": {"path": "~/logs/audit.jsonl", "key_file": "/keys/audit.key"}, "integrity": {"pins_dir": "/p"}, "approval": {"queue": "/q"}}
    paths = wrap.protected_paths("/etc/mcpwrap.yaml", "/var/log/a.jsonl", raw)
    for expected in ("/etc/mcpwrap.yaml", "/var/log/a.jsonl", "/var/log/a.jsonl.*", "/keys/audit.key", "/p", "/q"):
        assert expected in paths
    assert any(p.endswith("/logs/audit.jsonl") and not p.startswith("~") for p in paths)


def test_confirm_restarts_only_when_the_loaded_policy_differs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = wrap.plan_for(["true"], "srv", None, str(tmp_path / "a.jsonl"))
    same = parse_policy({"version": "v1"})
    assert wrap.confirm(plan, same, ["true"], "srv", None, str(tmp_path / "a.jsonl")) is None
    stricter = parse_policy({"version": "v1", "sandbox": {"servers": {"srv": {"network": "deny"}}}})
    replacement = wrap.confirm(plan, stricter, ["true"], "srv", None, str(tmp_path / "a.jsonl"))
    assert replacement is not None and replacement.settings.network == "deny"
    moved = parse_policy({"version": "v1", "audit": {"key_file": str(tmp_path / "elsewhere.key")}})
    assert wrap.confirm(plan, moved, ["true"], "srv", None, str(tmp_path / "a.jsonl")) is not None
    for p in (plan, replacement):
        if p.launcher is not None and p.launcher.ruleset is not None:
            p.launcher.ruleset.close()


@pytest.mark.parametrize(
    ("text", "needed"),
    [
        ("version: v1\nrules:\n  - name: r\n    match: {arguments: {path: ['/etc/*']}}\n", False),  # "path" in a rule
        ("audit:\n  record_arguments: full\n  # path: /x\n", False),
        ("audit:\n  path: /var/log/mcpwrap.jsonl\n", True),
        ("audit: {key_file: /k}\n", True),
        ("integrity:\n  pins_dir: /p\n", True),
        ("approval:\n  queue: /q\n", True),
        ("audit: *shared\n", True),
        ("{audit: {path: /x}}\n", True),
        ('"audit":\n  path: /x\n', True),
        ("mode: enforce  # the sandbox is on\n", True),
    ],
)
def test_the_quick_read_parses_whenever_the_text_may_move_mcpwraps_files(text, needed):
    assert wrap._needs_parse(text) is needed


def test_the_example_policy_needs_no_parser_before_the_spawn():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "policy.example.yaml").read_text()
    assert wrap._needs_parse(text) is False
