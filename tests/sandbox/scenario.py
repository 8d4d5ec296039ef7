#!/usr/bin/env python3
"""Plays the client of a sandbox attack: starts ``mcpwrap wrap -- attacker``, asks for the attacks, and
prints one JSON object: the attacker's results, whether anything reached this client around the relay, and
the pids involved. Run as root and, through ``setpriv``, as an unprivileged user (then the client, mcpwrap and
the server are all that user, as in real use).

    scenario.py '{"mcpwrap": [...argv up to --], "server": [...], "env": {...}, "attack": {...}}'

Standard library only (it may run under another interpreter than the test's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

RESPONSE_TIMEOUT = 60.0


def main() -> None:
    spec = json.loads(sys.argv[1])
    env = dict(os.environ)
    env.update(spec.get("env", {}))
    env["ATTACK"] = json.dumps(spec.get("attack", {}))
    proc = subprocess.Popen(
        [*spec["mcpwrap"], "--", *spec["server"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env, cwd=spec.get("cwd"), bufsize=0,
    )
    lines: list[bytes] = []
    got = threading.Condition()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with got:
                lines.append(line)
                got.notify_all()

    stderr_chunks: list[bytes] = []
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True).start()  # type: ignore[union-attr]

    def request(msg_id: int, method: str, params: dict) -> dict:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode() + b"\n")
        deadline = time.monotonic() + RESPONSE_TIMEOUT
        with got:
            while True:
                for line in lines:
                    msg = json.loads(line)
                    if msg.get("id") == msg_id and "method" not in msg:
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to {method}")
                got.wait(left)

    request(1, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "scenario", "version": "1"}})
    pids = [p for p in (os.getpid() if spec.get("attack_client", True) else None, proc.pid) if p]
    reply = request(2, "tools/call", {"name": "attack", "arguments": {"pids": pids}})
    text = reply.get("result", {}).get("content", [{}])[0].get("text", "")
    try:
        results = json.loads(text)
    except ValueError:
        results = None
    assert proc.stdin is not None
    proc.stdin.close()
    code = proc.wait(30)
    reader.join(10)  # everything mcpwrap's stdout carried, up to its end
    injected = any(b"INJECTED" in line for line in lines)
    print(json.dumps({
        "results": results, "reply": None if results is not None else reply, "injected": injected,
        "client_pid": os.getpid(), "mcpwrap_pid": proc.pid, "exit": code,
        "stderr": b"".join(stderr_chunks).decode("utf-8", "replace")[-4000:],
    }))


if __name__ == "__main__":
    main()
