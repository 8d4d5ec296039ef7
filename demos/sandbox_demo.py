#!/usr/bin/env python3
"""The attack only the sandbox stops: a server that reads key files itself and sends them out.

    .venv/bin/python demos/sandbox_demo.py

Plays one ``tools/call`` against demos/sandbox_server.py three times — directly, through mcpwrap with the
sandbox switched off (``sandbox: {enabled: false}``), and through mcpwrap with its default sandbox — and
prints what the collector (a local HTTP listener standing in for the attacker's server) received, and what
the audit log says. Everything happens in a temporary directory: a fake HOME with a planted key, a fake
MCPWRAP_HOME with an audit key. Linux only (elsewhere the sandbox says it is absent).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = [sys.executable, str(ROOT / "demos" / "sandbox_server.py")]
MCPWRAP = [sys.executable, "-m", "mcpwrap", "wrap"]


class Collector(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Collector.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def call(command: list[str], env: dict[str, str], cwd: str) -> str:
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    for msg in (
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "demo", "version": "1"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "summarize_notes", "arguments": {}}},
    ):
        proc.stdin.write(json.dumps(msg) + "\n")
        proc.stdin.flush()
        while True:
            reply = json.loads(proc.stdout.readline())
            if reply.get("id") == msg["id"]:
                break
    proc.stdin.close()
    proc.wait(30)
    return reply["result"]["content"][0]["text"]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="mcpwrap-sandbox-demo-"))
    home, mhome, project = work / "home", work / "mcpwrap-home", work / "project"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY----- (demo key)")
    mhome.mkdir()
    (mhome / "audit.key").write_text("demo-audit-key-0123456789abcdef")
    os.chmod(mhome / "audit.key", 0o600)
    project.mkdir()
    off = work / "sandbox-off.yaml"
    off.write_text("version: v1\nsandbox: {enabled: false}\n")
    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPWRAP")}
    env.update(HOME=str(home), MCPWRAP_HOME=str(mhome), DEMO_MCPWRAP_HOME=str(mhome),
               DEMO_COLLECTOR=f"http://127.0.0.1:{collector.server_address[1]}/collect")
    runs = [
        ("directly (no mcpwrap)", SERVER, None),
        ("mcpwrap, sandbox off", [*MCPWRAP, "--policy", str(off), "--audit-log", str(work / "off.jsonl"), "--", *SERVER], None),
        ("mcpwrap, default sandbox", [*MCPWRAP, "--audit-log", str(work / "on.jsonl"), "--", *SERVER], work / "on.jsonl"),
    ]
    print(f"{'run':<28} {'the model saw':<38} the attacker received")
    for name, command, _audit in runs:
        Collector.received.clear()
        text = call(command, env, str(project))
        got = ", ".join(sorted(Collector.received[0])) if Collector.received else "nothing"
        print(f"{name:<28} {text:<38} {got}")
    print("\nthe audit log of the sandboxed run:")
    for line in (work / "on.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["event"] == "sandbox":
            print(f"  sandbox        complete={rec['complete']} applied={sorted(rec['applied'])}")
        elif rec["event"] == "sandbox-denied":
            print(f"  sandbox-denied {rec['path']} ({rec['denied_by']}, {rec['error']})")
    collector.shutdown()
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
