"""The audit key: created owner-only and never replaced by accident, found in the environment or a file,
refused when short or readable by others."""

from __future__ import annotations

import stat

import pytest

from mcpwrap._audit.keys import KEY_ENV, init_key, key_id, load_key
from mcpwrap._audit.writer import AuditLog
from mcpwrap._errors import AuditError


def test_init_key_writes_0600_and_refuses_to_replace(mcpwrap_home):
    path, kid = init_key()
    assert path == mcpwrap_home / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key() == path.read_bytes().strip() and key_id(load_key()) == kid
    with pytest.raises(AuditError, match="already exists"):
        init_key()
    _, kid2 = init_key(force=True)
    assert kid2 != kid


def test_key_from_environment_wins(mcpwrap_home, monkeypatch):
    init_key()
    monkeypatch.setenv(KEY_ENV, "an-environment-key-of-some-length")
    assert load_key() == b"an-environment-key-of-some-length"


def test_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "k"
    path.write_text("x" * 64)
    path.chmod(0o644)
    with pytest.raises(AuditError, match="chmod 600"):
        load_key(path)


def test_short_key_is_refused(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(AuditError, match="too short"):
        load_key()


def test_no_key_configured_means_plain_chain(mcpwrap_home):
    assert load_key() is None
    log = AuditLog(mcpwrap_home / "a.jsonl")
    assert log.key_id is None
    log.close()
