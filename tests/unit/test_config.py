"""The policy-file loader: strict YAML with positions, sections declared by their owners."""

from __future__ import annotations

import time

import pytest

from mcpwrap._config import Section, load_section, parse_config, read_yaml
from mcpwrap._errors import ConfigError


def test_aliases_are_refused_before_they_can_grow():
    # Nested aliases double at every level: 18 levels are 2**18 copies if they are expanded.
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 18)]
    start = time.monotonic()
    with pytest.raises(ConfigError, match="aliases are not supported") as err:
        read_yaml("\n".join(lines) + "\n", "p.yaml")
    assert time.monotonic() - start < 1.0
    assert err.value.file == "p.yaml" and err.value.line == 1  # where the reused value is anchored


def test_a_merge_key_is_an_alias_too():
    with pytest.raises(ConfigError, match="aliases"):
        read_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "p.yaml")


def test_duplicate_keys_and_unknown_sections_name_their_position():
    with pytest.raises(ConfigError) as err:
        read_yaml("a: 1\nb: 2\na: 3\n", "p.yaml")
    assert (err.value.line, err.value.column) == (3, 1)
    sections = {"a": Section("a", lambda raw, path: raw, default=lambda: 0)}
    raw, positions = read_yaml("a: 1\nzz: 2\n", "p.yaml")
    with pytest.raises(ConfigError, match="unknown key 'zz'") as err:
        parse_config(raw, sections, file="p.yaml", positions=positions)
    assert err.value.line == 2


def test_load_section_reads_one_section_and_ignores_the_others(tmp_path):
    section = Section("audit", lambda raw, path: raw["path"], default=lambda: "default")
    policy = tmp_path / "p.yaml"
    policy.write_text("audit: {path: /x}\nsomething_else: [1, 2]\n")
    assert load_section(policy, section) == "/x"
    policy.write_text("something_else: 1\n")
    assert load_section(policy, section) == "default"


def test_the_default_policys_json_twin_is_the_yaml():
    # `wrap` without a policy file reads default_policy.json (no YAML parser at start-up); `policy init` writes
    # default_policy.yaml. After editing the YAML, write read_yaml(builtin_policy_text(), "")[0] to the twin
    # with json.dumps(..., indent=1, ensure_ascii=False).
    from mcpwrap._config import builtin_policy_text, builtin_policy_value, read_yaml

    assert builtin_policy_value() == read_yaml(builtin_policy_text(), "default_policy.yaml")[0]
