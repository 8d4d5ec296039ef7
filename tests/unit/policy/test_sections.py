"""Loading the admission-control sections: strict, and every error with its line and column."""

from __future__ import annotations

import pytest

from mcpwrap._errors import ConfigError
from mcpwrap.interceptors import parse_policy as parse_config

LOADER_ERRORS = [
    ({"rules": [{"name": "a", "action": "allow"}, {"name": "a", "action": "deny"}]}, "duplicate rule name"),
    ({"rules": [{"name": "a", "action": "block"}]}, "must be one of allow, deny, approve"),
    ({"rules": [{"name": "a", "action": "allow", "match": {"tool": ["x"]}}]}, "unknown key 'tool'"),
    ({"rules": [{"name": "a", "action": "allow", "match": {"tools": {"x": 1}}}]}, "expected list, got mapping"),
    ({"rules": [{"name": "a", "action": "allow", "match": {"tools": [["x"]]}}]}, "expected a string, got list"),
    ({"rules": [{"name": "a", "action": "allow", "extra": 1}]}, "unknown key 'extra'"),
    ({"rules": [{"action": "allow"}]}, "needs a name"),
    ({"rules": [{"name": "a", "action": "allow", "timeout": 3}]}, "applies to action: approve only"),
    ({"rules": [{"name": "a", "action": "approve", "channels": ["pigeon"]}]}, "must be one of elicitation"),
    ({"rules": [{"name": "a", "action": "deny", "match": {"risk": ["scary"]}}]}, "risk must be one of"),
    ({"rules": [{"name": "a", "action": "deny", "match": {"direction": "up"}}]}, "direction must be"),
    ({"version": "v2"}, "unsupported version"),
    ({"mode": "strict"}, "must be one of enforce, audit"),
    ({"default_action": "approve"}, "must be one of allow, deny"),
    ({"subjects": {"alice": 7}}, "expected list, got integer"),
    ({"rate_limits": [{"name": "x"}]}, "needs per_second"),
    ({"rate_limits": [{"name": "x", "per_second": -1}]}, "greater than 0"),
    ({"rate_limits": [{"name": "x", "concurrent": 1.5}]}, "whole number"),
]


@pytest.mark.parametrize("doc,message", LOADER_ERRORS)
def test_loader_is_strict(doc, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(doc)
    assert message in str(exc.value)


def test_errors_carry_line_and_column(tmp_path):
    from mcpwrap.interceptors import load_policy as load_config

    f = tmp_path / "p.yaml"
    f.write_text("version: v1\nrules:\n  - name: a\n    action: allow\n    match:\n      toolz: [x]\n")
    with pytest.raises(ConfigError) as exc:
        load_config(f)
    assert (exc.value.line, exc.value.column) == (6, 7)
    assert str(exc.value).startswith(f"{f}:6:7: rules.0.match.toolz: unknown key")
