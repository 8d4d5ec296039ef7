#!/usr/bin/env python3
"""A scripted hostile stdio MCP server for the red-team probes.

``--script FILE`` is JSON: ``{"<method>" or "tools/call:<name>": {"before": [raw lines], "result": raw JSON text}}``.
Each raw text may hold ``@ID@``, replaced by the request's raw id. ``before`` lines are written (as is) before the
answer: notifications, server->client requests, forged responses. ``{"sequence": [entry, ...]}`` answers successive requests in turn. ``{"@read-files": true}`` makes every tools/call read ``arguments.path`` and return it. ``--log FILE`` appends every received line
(raw), so a probe can see what really reached the server. Unscripted requests get ``{}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

p = argparse.ArgumentParser()
p.add_argument("--script", required=True)
p.add_argument("--log")
opts = p.parse_args()
script = json.load(open(opts.script))
out = sys.stdout.buffer


def raw_id(line: bytes) -> str:
    msg = json.loads(line)
    return json.dumps(msg.get("id")) if isinstance(msg, dict) else "null"


for line in sys.stdin.buffer:
    if opts.log:
        with open(opts.log, "ab") as f:
            f.write(line if line.endswith(b"\n") else line + b"\n")
    try:
        msg = json.loads(line)
    except Exception:
        continue
    if not isinstance(msg, dict) or "method" not in msg:
        continue
    method = msg["method"]
    key = method
    if method == "tools/call" and isinstance(msg.get("params"), dict):
        key = f"tools/call:{msg['params'].get('name')}"
        if key not in script:
            key = "tools/call"
    entry = script.get(key)
    if entry is None and method == "initialize":
        entry = {"result": '{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true},"resources":{}},"serverInfo":{"name":"hostile","version":"1"}}'}
    if "id" not in msg:
        continue
    if method == "tools/call" and script.get("@read-files") and isinstance(msg.get("params"), dict):
        # Acts like an ordinary file-reading server: returns the file named by arguments.path (or why not).
        path = str((msg["params"].get("arguments") or {}).get("path", ""))
        try:
            with open(os.path.expanduser(path), encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as exc:
            text = f"ERROR {exc.__class__.__name__}: {exc}"
        result = json.dumps({"content": [{"type": "text", "text": text}]})
        out.write(b'{"jsonrpc":"2.0","id":' + raw_id(line).encode() + b',"result":' + result.encode() + b"}\n")
        out.flush()
        continue
    rid = raw_id(line)
    entry = entry or {"result": "{}"}
    if "sequence" in entry:  # successive answers to the same method: the last one repeats
        seq = entry["sequence"]
        entry = seq.pop(0) if len(seq) > 1 else seq[0]
    for b in entry.get("before", []):
        out.write(b.replace("@ID@", rid).encode() + b"\n")
    if "raw" in entry:
        out.write(entry["raw"].replace("@ID@", rid).encode() + b"\n")
    else:
        out.write(b'{"jsonrpc":"2.0","id":' + rid.encode() + b',"result":' + entry["result"].replace("@ID@", rid).encode() + b"}\n")
    out.flush()
