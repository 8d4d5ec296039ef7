from __future__ import annotations

import os

import pytest

from mcpwrap._sandbox.denials import MAX_RECORDS, DenialScanner, StderrRelay


def classify(path: str):
    if path.startswith("/home/u/.ssh"):
        return "credentials"
    if path == "/work/p/.mcp.json":
        return "read-only (write)"
    if path.startswith("/etc"):
        return None
    return "outside the profile"


@pytest.fixture
def found():
    records: list[dict] = []
    scanner = DenialScanner(classify, cwd="/work/p", home="/home/u")
    scanner.attach(records.append)
    return scanner, records


@pytest.mark.parametrize(
    ("line", "path", "error"),
    [
        ("Error: EACCES: permission denied, open '/home/u/.ssh/id_rsa'", "/home/u/.ssh/id_rsa", "EACCES"),
        ("PermissionError: [Errno 13] Permission denied: '/home/u/.ssh/config'", "/home/u/.ssh/config", "EACCES"),
        ("cat: ~/.ssh/id_ed25519: Permission denied", "/home/u/.ssh/id_ed25519", "EACCES"),
        ("sh: 1: cannot create .mcp.json: Read-only file system", "/work/p/.mcp.json", "EROFS"),
        ("ls: cannot open directory '/srv/data': Operation not permitted", "/srv/data", "EPERM"),
    ],
)
def test_refusals_in_the_usual_spellings_are_recognised(found, line, path, error):
    scanner, records = found
    scanner.scan(line + "\n", "stderr")
    assert records == [{"path": path, "denied_by": classify(path), "error": error, "source": "stderr"}]


def test_lines_without_a_refusal_or_about_allowed_paths_are_ignored(found):
    scanner, records = found
    scanner.scan("reading /home/u/.ssh/id_rsa\nEACCES on /etc/hosts\nsh: cannot run script: Permission denied\n", "stderr")
    assert records == []


def test_records_are_deduplicated_and_capped():
    records: list[dict] = []
    scanner = DenialScanner(classify, cwd="/", home="/home/u")
    scanner.attach(records.append)
    for i in range(MAX_RECORDS + 50):
        scanner.scan(f"EACCES /home/u/.ssh/k{i}\nEACCES /home/u/.ssh/k0\n", "stderr")
    assert len(records) == MAX_RECORDS and scanner.dropped == 50


def test_findings_before_the_audit_log_exists_are_kept():
    scanner = DenialScanner(classify, cwd="/", home="/home/u")
    scanner.scan("EACCES /home/u/.ssh/id_rsa\n", "stderr")
    records: list[dict] = []
    scanner.attach(records.append)
    assert [r["path"] for r in records] == ["/home/u/.ssh/id_rsa"]


def test_stderr_is_relayed_unchanged_and_scanned_by_line(tmp_path):
    r, w = os.pipe()
    out_r, out_w = os.pipe()
    records: list[dict] = []
    scanner = DenialScanner(classify, cwd="/", home="/home/u")
    scanner.attach(records.append)
    relay = StderrRelay(r, scanner, out_fd=out_w)
    relay.start()
    payload = b"partial EACC" + b"ES: permission denied, open '/home/u/.ssh/id_rsa'\n\xff binary tail"
    os.write(w, payload[:10])
    os.write(w, payload[10:])
    os.close(w)
    relay.join(10)
    os.close(out_w)
    with os.fdopen(out_r, "rb") as f:
        assert f.read() == payload
    assert [rec["path"] for rec in records] == ["/home/u/.ssh/id_rsa"]


def test_the_servers_stderr_reaches_a_person_defanged():
    from mcpwrap._sandbox.denials import defang

    # OSC 52 (write the clipboard), a title change, C1 controls: shown, not acted on
    raw = b"ok\x1b]52;c;ZXZpbA==\x07\x1b]0;title\x07 \xc2\x9b2J\n"
    shown, ended = defang(raw, True)
    assert b"\x1b" not in shown and b"\x07" not in shown and b"\xc2\x9b" not in shown and ended
    assert shown.startswith(b"ok\\x1b]52;c;ZXZpbA==\\x07")
    # a line posing as mcpwrap's own is marked as the server's, at a line start only (also across reads)
    shown, ended = defang(b"mcpwrap: type the code here\nnot mcpwrap\n  MCPWRAP: x", True)
    assert shown == b"[server] mcpwrap: type the code here\nnot mcpwrap\n[server]   MCPWRAP: x" and not ended
    assert defang(b"mcpwrap: continued", False)[0] == b"mcpwrap: continued"
    assert defang(b"plain text, caf\xc3\xa9\n", True)[0] == b"plain text, caf\xc3\xa9\n"
