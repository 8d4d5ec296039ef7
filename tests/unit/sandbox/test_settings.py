from __future__ import annotations

import pytest

from mcpwrap._config import parse_config
from mcpwrap._errors import ConfigError
from mcpwrap._sandbox.settings import SANDBOX_SECTION, HostRule, ServerSandbox, parse_host, parse_sandbox
from mcpwrap.interceptors import SECTIONS


def test_absent_section_is_the_default_profile_on():
    settings = parse_sandbox(None)
    base = settings.for_server("anything")
    assert base == ServerSandbox()
    assert base.enabled and not base.require and base.network == "allow" and not base.unix_sockets


def test_the_policy_file_accepts_the_section():
    assert SECTIONS["sandbox"] is SANDBOX_SECTION
    config = parse_config({"sandbox": {"network": "deny"}}, SECTIONS)
    assert config["sandbox"].for_server("x").network == "deny"


def test_per_server_overrides_replace_scalars_and_extend_lists():
    settings = parse_sandbox({
        "network": "deny",
        "allow_read": ["~/docs"],
        "servers": {"github": {"network": {"hosts": ["api.github.com"]}, "allow_read": ["~/src"], "require": True}},
    })
    gh = settings.for_server("github")
    assert gh.network == "hosts" and gh.hosts == (HostRule("api.github.com"),)
    assert gh.allow_read == ("~/docs", "~/src") and gh.require
    other = settings.for_server("time")
    assert other.network == "deny" and other.allow_read == ("~/docs",) and not other.require


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ({"network": "some"}, ("sandbox", "network"), "allow, deny or {hosts"),
        ({"network": {"host": []}}, ("sandbox", "network", "host"), "unknown key"),
        ({"network": {"hosts": ["exa mple.com"]}}, ("sandbox", "network", "hosts", 0), "not a host"),
        ({"network": {"hosts": ["example.com:99999"]}}, ("sandbox", "network", "hosts", 0), "not a port"),
        ({"allow_read": ["relative/path"]}, ("sandbox", "allow_read", 0), "absolute"),
        ({"enabled": "yes"}, ("sandbox", "enabled"), "true or false"),
        ({"unix_sockets": "maybe"}, ("sandbox", "unix_sockets"), "allow or deny"),
        ({"servers": {"x": {"servers": {}}}}, ("sandbox", "servers", "x", "servers"), "unknown key"),
        ({"colour": 1}, ("sandbox", "colour"), "unknown key"),
    ],
)
def test_mistakes_name_the_key(raw, path, message):
    with pytest.raises(ConfigError) as info:
        parse_sandbox(raw)
    assert info.value.path == path
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("API.GitHub.com.", HostRule("api.github.com")),
        ("*.npmjs.org", HostRule("npmjs.org", None, True)),
        ("example.com:443", HostRule("example.com", 443)),
        ("10.0.0.0/8", HostRule("10.0.0.0/8")),
        ("[::1]:8080", HostRule("::1", 8080)),
        ("bücher.de", HostRule("xn--bcher-kva.de")),
    ],
)
def test_hosts_are_canonical(text, rule):
    assert parse_host(text, ()) == rule


def test_the_commented_example_in_policy_example_yaml_is_valid():
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[3] / "policy.example.yaml").read_text()
    lines = text[text.index("# sandbox:"):].splitlines()
    block = "\n".join(line[2:].split("  #")[0] for line in lines if line.startswith("# "))
    settings = parse_sandbox(yaml.safe_load(block)["sandbox"])
    assert settings.for_server("github").network == "hosts"
    assert settings.for_server("filesystem").allow_write == ("~/notes", "~/Documents")
