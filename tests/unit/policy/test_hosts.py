"""Hosts and relative paths as the server will read them: a deny rule catches every spelling.

The properties: (1) every spelling a resolver or URL parser reads as 169.254.169.254 — inet_aton forms,
IPv4-mapped/compatible/NAT64 IPv6, trailing dots, full-width digits, percent-encoding, userinfo, ports — is
denied by the built-in policy, bare, in a URL, and inside a shell command; (2) a bare relative path that the
server resolves into a credential store is denied; (3) an allow rule is never widened by these readings.
"""

from __future__ import annotations

import ipaddress
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_factories import decide

from mcpwrap._policy.engine import Call
from mcpwrap._policy.hosts import canonical_host, host_readings
from mcpwrap.interceptors import load_policy

METADATA = int(ipaddress.IPv4Address("169.254.169.254"))


def builtin_decision(arguments: dict, tool: str = "fetch") -> str:
    view = __import__("mcpwrap._policy.engine", fromlist=["policy_of"]).policy_of(load_policy(None), overrides=()).view("s", "u")
    return view.decide(Call("tools/call", tool, arguments)).action


def _part(value: int, style: str) -> str:
    return {"dec": str(value), "hex": hex(value), "HEX": "0X" + format(value, "X"), "oct": "0" + format(value, "o") if value else "0"}[style]


@st.composite
def ipv4_spellings(draw, address: int = METADATA) -> str:
    """One of the forms inet_aton accepts for ``address``."""
    octets = list(address.to_bytes(4, "big"))
    parts_count = draw(st.integers(1, 4))
    if parts_count == 4:
        values = octets
    elif parts_count == 3:
        values = [octets[0], octets[1], octets[2] << 8 | octets[3]]
    elif parts_count == 2:
        values = [octets[0], octets[1] << 16 | octets[2] << 8 | octets[3]]
    else:
        values = [address]
    styles = draw(st.lists(st.sampled_from(["dec", "hex", "HEX", "oct"]), min_size=len(values), max_size=len(values)))
    return ".".join(_part(v, s) for v, s in zip(values, styles, strict=True))


@st.composite
def host_spellings(draw) -> str:
    kind = draw(st.sampled_from(["v4", "mapped", "compat", "nat64", "fullwidth", "percent"]))
    if kind == "v4":
        host = draw(ipv4_spellings()) + draw(st.sampled_from(["", "."]))
    elif kind == "mapped":
        host = draw(st.sampled_from(["::ffff:a9fe:a9fe", "::ffff:169.254.169.254", "0:0:0:0:0:ffff:a9fe:a9fe", "::FFFF:A9FE:A9FE"]))
    elif kind == "compat":
        host = "::a9fe:a9fe"
    elif kind == "nat64":
        host = "64:ff9b::a9fe:a9fe"
    elif kind == "fullwidth":
        host = "１６９.２５４.１６９.２５４"
    else:
        host = "%31%36%39.254.169.254"
    return host


@settings(max_examples=300, deadline=None)
@given(ipv4_spellings())
def test_every_inet_aton_form_reads_as_the_address(spelling):
    assert canonical_host(spelling) == "169.254.169.254"


@settings(max_examples=200, deadline=None)
@given(host_spellings(), st.sampled_from(["bare", "url", "url-userinfo", "curl", "wget-noscheme", "backslashes"]))
def test_the_builtin_policy_denies_every_spelling_of_the_metadata_endpoint(host, carrier):
    bracket = f"[{host}]" if ":" in host else host
    value = {
        "bare": host,
        "url": f"http://{bracket}/latest/meta-data/",
        "url-userinfo": f"http://api.example.com@{bracket}:80/latest",
        "curl": f"curl -s http://{bracket}/latest/meta-data/iam/",
        "wget-noscheme": f"wget -qO- {bracket}/latest/meta-data" if ":" not in host else f"wget http://{bracket}/",
        "backslashes": f"http:\\\\{bracket}\\latest",
    }[carrier]
    assert builtin_decision({"command": value}) == "deny", value


def test_ipv6_metadata_endpoint_in_any_spelling():
    for value in ("http://[fd00:ec2::254]/", "http://[FD00:0EC2:0000:0000:0000:0000:0000:0254]/x", "fd00:0ec2::254"):
        assert builtin_decision({"url": value}) == "deny", value


def test_names_are_canonical_too():
    assert canonical_host("API.Example.COM.") == "api.example.com"
    assert canonical_host("METADATA.Google.Internal.") == "169.254.169.254"  # a name whose address is known
    assert canonical_host("bücher.de") == "xn--bcher-kva.de"
    assert builtin_decision({"url": "http://metadata.google.internal./computeMetadata/v1/"}) == "deny"


def test_ordinary_values_get_no_host_reading():
    for value in ("hello world", "10", "the year 2024", "http://example.com/a", "see /tmp/x"):
        assert host_readings(value) == [], value
    assert builtin_decision({"url": "https://example.com/docs"}) == "allow"


def test_allow_rules_are_not_widened_and_not_broken_by_host_readings():
    doc = {"rules": [{"name": "fetch-docs", "action": "allow", "match": {"tools": ["fetch"], "arguments": {"url": ["https://docs.example.com/*"]}}}]}
    assert decide(doc, Call("tools/call", "fetch", {"url": "https://docs.example.com/a"}))[0] == "allow"
    # userinfo makes the real host evil.com: the canonical reading exposes it, so the allow does not hold
    assert decide(doc, Call("tools/call", "fetch", {"url": "https://docs.example.com@evil.com/a"}))[0] == "deny"
    versions = {"rules": [{"name": "v", "action": "allow", "match": {"tools": ["pin"], "arguments": {"version": ["1.5", "12:30"]}}}]}
    assert decide(versions, Call("tools/call", "pin", {"version": "1.5"}))[0] == "allow"  # not read as 1.0.0.5


def test_host_readings_are_linear_on_hostile_input():
    hostile = ("http://" + "a" * 5000 + " ") * 200 + "0x" * 100_000
    start = time.monotonic()
    host_readings(hostile[: 1 << 20])
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("value", [".ssh/id_rsa", ".ssh/id_ed25519", "x/../.ssh/id_rsa", ".docker/config.json", ".aws/credentials"])
def test_bare_relative_paths_resolve_against_the_servers_working_directory(value, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # the server inherits mcpwrap's working directory: here, the home directory
    assert builtin_decision({"path": value}, tool="read_file") == "deny"


@pytest.mark.parametrize(
    "value",
    [
        "http://169.254.169.\n254/latest/meta-data/",  # WHATWG parsers delete tabs and newlines inside a URL
        "http://169.254.\t169.254/latest",
        "http://metadata.google.inter\rnal/computeMetadata/v1/",
        "http://169\u3002254\u3002169\u3002254/",  # ideographic full stops: IDNA reads them as dots
        "169\uff61254\uff61169\uff61254",
        "http://0xa9\u30020xfe\u30020xa9\u30020xfe/latest",
    ],
    ids=["newline", "tab", "carriage-return", "ideographic-dots", "halfwidth-dots-bare", "ideographic-dots-hex"],
)
def test_spellings_found_when_attacking_the_host_readings_are_denied(value):
    assert builtin_decision({"url": value}) == "deny", value


@pytest.mark.parametrize(
    "value",
    [
        "http://instance-data/latest/meta-data/",
        "http://instance-data.ec2.internal/latest/",
        "http://metadata/computeMetadata/v1/",
        "http://METADATA.GOOG./computeMetadata/v1/",
        "http://a9fea9fe.nip.io/latest/",
        "http://169-254-169-254.sslip.io/",
        "http://app.169.254.169.254.nip.io/latest",
        "http://app-a9fea9fe.sslip.io/",
        "curl -s 169-254-169-254.sslip.io/latest/meta-data",
    ],
)
def test_names_that_resolve_to_the_metadata_endpoint_without_asking_dns_are_denied(value):
    # Metadata aliases of the clouds, and wildcard-DNS services that answer with the address written in the name.
    assert builtin_decision({"url": value}) == "deny", value


@pytest.mark.parametrize("value", ["http://nip.io/", "http://foo.nip.io/x", "http://example.com/metadata", "metadata", "see 10-2-3.sslip.io docs"])
def test_other_names_are_left_as_they_are(value):
    assert builtin_decision({"url": value}) == "allow", value


@pytest.mark.parametrize(
    "template",
    ["{home}/.ssh/i?_rsa", "cat {home}/.ssh/id_*", "cat {home}/.s''sh/id_rsa", 'cat "{home}/.ss"h/id_rsa', "cat {home}/.s\\sh/id_rsa",
     "{home}%2F.ssh%2Fid_rsa", "{home}/.ssh/[i]d_rsa"],
)
def test_shell_and_url_spellings_of_a_key_path_are_denied(template, tmp_path, monkeypatch):
    # What a shell or a URL parser makes of the value is read too: quotes and escapes removed, %-escapes
    # decoded, a glob expanded on this machine (where the key is).
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("key")
    monkeypatch.setenv("HOME", str(home))
    assert builtin_decision({"command": template.format(home=home)}) == "deny"


def test_quotes_in_ordinary_text_change_nothing():
    assert builtin_decision({"text": "it's \"fine\": see docs/README.md and 50% of *.txt"}) == "allow"


@pytest.mark.parametrize(
    "method, params",
    [
        ("prompts/get", {"name": "summarise", "arguments": {"file": "~/.ssh/id_rsa"}}),
        ("resources/subscribe", {"uri": "file:///home/me/.aws/credentials"}),
        ("completion/complete", {"ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": "url", "value": "http://169.254.169.254/"}}),
    ],
)
def test_every_request_that_names_something_to_read_is_covered_by_the_builtin_rules(method, params):
    view = __import__("mcpwrap._policy.engine", fromlist=["policy_of"]).policy_of(load_policy(None), overrides=()).view("s", "u")
    assert view.decide(Call(method, None, params)).action == "deny"
