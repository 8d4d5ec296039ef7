"""Shared harness for the red-team probes: the real ``mcpwrap wrap`` around the scripted hostile server."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rig import ROOT, RawPeer, child_env, wrap_command  # noqa: E402

HOSTILE = [sys.executable, str(Path(__file__).resolve().parent / "hostile_server.py")]
EXAMPLE_POLICY = ROOT / "policy.example.yaml"


@contextmanager
def wrapped(tmp: Path, script: dict, *options: str, env_extra: dict | None = None) -> Iterator[tuple[RawPeer, Path, Path]]:
    """Yield (peer, received-log, audit-log) for mcpwrap wrapping the hostile server with ``script``."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    sfile = tmp / "script.json"
    sfile.write_text(json.dumps(script))
    log = tmp / "received.log"
    log.write_bytes(b"")
    audit = tmp / "audit.jsonl"
    env = child_env(MCPWRAP_HOME=str(home), **(env_extra or {}))
    cmd = wrap_command([*HOSTILE, "--script", str(sfile), "--log", str(log)], *options, audit_log=audit)
    with RawPeer(cmd, env=env, stderr=open(tmp / "stderr.txt", "wb")) as peer:
        peer.initialize()
        yield peer, log, audit


def received(log: Path) -> list[Any]:
    out = []
    for line in log.read_bytes().split(b"\n"):
        if line.strip():
            try:
                out.append(json.loads(line))
            except Exception:
                out.append(line)
    return out


def reply_for(peer: RawPeer, msg_id: Any, timeout: float = 15.0) -> Any:
    while True:
        r = peer.recv(timeout)
        if isinstance(r, dict) and r.get("id") == msg_id and "method" not in r:
            return r
