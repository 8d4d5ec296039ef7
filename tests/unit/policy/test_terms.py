"""The shared terms of the policy language: name globs, name lists, choices."""

from __future__ import annotations

import pytest

from mcpwrap._errors import ConfigError
from mcpwrap._policy.terms import MODES, NameSet, one_of, str_list


@pytest.mark.parametrize(
    "patterns, fold, name, expected",
    [
        (["echo"], True, "ECHO", True),
        (["echo"], True, "ｅｃｈｏ", True),  # fullwidth: same name once NFKC-normalised
        (["echo"], True, "ec\u200bho", True),  # an invisible character does not make another name
        (["echo"], False, "ECHO", False),  # identities compare exactly
        (["exec_*"], True, "EXEC_rm", True),
        (["exec_*"], True, "my_exec_rm", False),
        (["a?c"], True, "abc", True),
        (["a?c"], True, "ac", False),
        (["x"], True, "", False),  # an empty name never matches
        (["x"], True, None, False),
    ],
)
def test_name_sets(patterns, fold, name, expected):
    assert NameSet(patterns, fold)(name) is expected


def test_which_names_the_first_pattern_that_matches():
    names = NameSet(["read_*", "*_file", "read_file"], True)
    assert names.which("READ_FILE") == "read_*"
    assert names.which("write") is None


def test_a_single_string_is_a_list_of_one_and_lists_hold_strings():
    assert str_list("echo", ("tools",)) == ["echo"]
    assert str_list([1, "b"], ("tools",)) == ["1", "b"]
    with pytest.raises(ConfigError, match="at least one entry"):
        str_list([], ("tools",))
    assert str_list([], ("tools",), allow_empty=True) == []
    with pytest.raises(ConfigError, match="expected a string, got bool"):
        str_list([True], ("tools",))


def test_one_of():
    assert one_of("audit", MODES, ("mode",)) == "audit"
    with pytest.raises(ConfigError, match="must be one of enforce, audit"):
        one_of("strict", MODES, ("mode",))
