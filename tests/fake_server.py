#!/usr/bin/env python3
"""A scriptable stdio MCP server for faults the real servers can't produce (and a fast echo for benchmarks).

It answers ``initialize``, ``tools/list`` (one tool, ``echo``), ``tools/call`` (echo of the arguments, or a
payload of ``--payload-bytes``), ``ping``, and any other request with ``{"echo": params}``. Flags add faults:

  --crash-on METHOD        exit with --crash-code (default 3) on receiving METHOD, without answering
  --garbage                write a non-JSON line, a non-UTF-8 line and a duplicate-key response before each answer
  --huge-line-bytes N      on tools/call "huge", write one N-byte line (a string result), then answer normally
  --no-final-newline       after answering "bye", write a last message without newline and exit 0
  --ignore-sigterm         ignore SIGTERM (the wrapper must escalate to SIGKILL)
  --exit-code N            exit status on stdin EOF (default 0)
  --stderr-flood N         write N bytes of diagnostics to stderr at start
  --notify-on-call N       send N notifications/message before each tools/call answer
  --request-on-call METHOD send a server→client request (e.g. sampling/createMessage) during each tools/call,
                           wait for its answer, then answer the call with the reply included
  --spawn-grandchild       start a sleeping grandchild in the same process group (must not be orphaned)
  --read-outs              also list "leak" (its result carries one secret in both content and
                           structuredContent), "fail" (answered with a JSON-RPC error) and "delete"
  --log-received FILE      append every line received (raw) to FILE: what really reached the server
  --record FILE            the same (what a client declared, as the server saw it; create FILE first: the
                           sandbox lets a server write files named on its command line)
  --server-request-id ID   the id of the --request-on-call request (a string; default: 0, 1, 2…)
  --flood-requests N       on tools/call "flood", send N roots/list requests to the client (ids "f0"…); each
                           answer is reported as a tools/call result (only the first reaches the client)
  --tools-file FILE        the tools/list result's tools, from a JSON file (default: one tool, echo)
  --result-raw TEXT        answer tools/call with this raw JSON text as the result (escapes kept as written)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--crash-on")
parser.add_argument("--crash-code", type=int, default=3)
parser.add_argument("--garbage", action="store_true")
parser.add_argument("--huge-line-bytes", type=int, default=0)
parser.add_argument("--no-final-newline", action="store_true")
parser.add_argument("--ignore-sigterm", action="store_true")
parser.add_argument("--exit-code", type=int, default=0)
parser.add_argument("--stderr-flood", type=int, default=0)
parser.add_argument("--payload-bytes", type=int, default=0)
parser.add_argument("--notify-on-call", type=int, default=0)
parser.add_argument("--request-on-call")
parser.add_argument("--spawn-grandchild", action="store_true")
parser.add_argument("--pidfile")
parser.add_argument("--read-outs", action="store_true")
parser.add_argument("--log-received", "--record", dest="log_received")
parser.add_argument("--server-request-id")
parser.add_argument("--flood-requests", type=int, default=0)
parser.add_argument("--tools-file")
parser.add_argument("--result-raw")
opts = parser.parse_args()

out = sys.stdout.buffer
inp = sys.stdin.buffer

if opts.ignore_sigterm:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if opts.pidfile:
    with open(opts.pidfile, "a") as f:
        f.write(f"{os.getpid()}\n")
if opts.spawn_grandchild:
    # The pidfile's path in its command line lets a test find it from outside a PID namespace too.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", opts.pidfile or ""])
    if opts.pidfile:
        with open(opts.pidfile, "a") as f:
            f.write(f"{child.pid}\n")
if opts.stderr_flood:
    chunk = b"diagnostic noise " * 64 + b"\n"
    left = opts.stderr_flood
    while left > 0:
        sys.stderr.buffer.write(chunk[:left])
        left -= len(chunk)
    sys.stderr.buffer.flush()

PAYLOAD = "x" * opts.payload_bytes
TOOLS = [
    {
        "name": "echo",
        "description": "Echo the arguments back.",
        "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}},
    }
]
if opts.tools_file:
    with open(opts.tools_file, encoding="utf-8") as f:
        TOOLS = json.load(f)

# An AWS access key id of the documented example form: the secrets detector redacts it.
LEAKED_KEY = "AKIA" + "Z7QW3RT5YU2IO4PA"
if opts.read_outs:
    for name in ("leak", "fail", "delete"):
        TOOLS.append({"name": name, "description": f"The {name} tool.", "inputSchema": {"type": "object"}})


def send(obj: object) -> None:
    out.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
    out.flush()


def answer(msg: dict) -> dict | None:
    method = msg.get("method")
    params = msg.get("params") or {}
    if method == "initialize":
        return {
            "protocolVersion": params.get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "fake", "version": "1.0"},
        }
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        name = params.get("name")
        if name == "leak" and opts.read_outs:
            return {"content": [{"type": "text", "text": f"key: {LEAKED_KEY}"}], "structuredContent": {"key": LEAKED_KEY}}
        if name == "huge" and opts.huge_line_bytes:
            text = "y" * opts.huge_line_bytes
            return {"content": [{"type": "text", "text": text}]}
        text = PAYLOAD or json.dumps(params.get("arguments", {}))
        return {"content": [{"type": "text", "text": text}]}
    if method == "ping":
        return {}
    return {"echo": params}


pending_server_requests: dict = {}
next_server_id = 0

for raw in inp:
    line = raw.strip()
    if not line:
        continue
    if opts.log_received:
        with open(opts.log_received, "ab") as f:
            f.write(line + b"\n")
    msgs = json.loads(line)
    batch = isinstance(msgs, list)
    replies = []
    for msg in msgs if batch else [msgs]:
        method = msg.get("method")
        if method is None:  # a response to our own request
            call = pending_server_requests.pop(msg.get("id"), None)
            if call is not None:
                send({"jsonrpc": "2.0", "id": call["id"], "result": {"content": [{"type": "text", "text": json.dumps(msg)}]}})
            continue
        if method == opts.crash_on:
            sys.exit(opts.crash_code)
        if "id" not in msg:
            continue
        if opts.garbage:
            out.write(b"this is not json\n")
            out.write(b'{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"\xff\xfe"}}\n')
            out.write(b'{"jsonrpc":"2.0","id":"no-such","result":{},"result":{"x":1}}\n')
            out.flush()
        if method == "tools/call" and opts.result_raw is not None:
            out.write(b'{"jsonrpc":"2.0","id":' + json.dumps(msg["id"]).encode() + b',"result":' + opts.result_raw.encode() + b"}\n")
            out.flush()
            continue
        if method == "tools/call" and (msg.get("params") or {}).get("name") == "flood":
            for i in range(opts.flood_requests):
                pending_server_requests[f"f{i}"] = msg
                send({"jsonrpc": "2.0", "id": f"f{i}", "method": "roots/list"})
            continue
        if method == "tools/call":
            for i in range(opts.notify_on_call):
                send({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": f"n{i}"}})
            if opts.request_on_call:
                sid = opts.server_request_id if opts.server_request_id is not None else next_server_id
                next_server_id += 1
                pending_server_requests[sid] = msg
                send({"jsonrpc": "2.0", "id": sid, "method": opts.request_on_call, "params": {"messages": [], "maxTokens": 10}})
                continue
            if (msg.get("params") or {}).get("name") == "bye" and opts.no_final_newline:
                out.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"content": []}}).encode())
                out.flush()
                os._exit(0)
        if opts.read_outs and method == "tools/call" and (msg.get("params") or {}).get("name") == "fail":
            send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32603, "message": "the fail tool failed"}})
            continue
        reply = {"jsonrpc": "2.0", "id": msg["id"], "result": answer(msg)}
        if batch:
            replies.append(reply)
        else:
            send(reply)
    if batch and replies:
        send(replies)

sys.exit(opts.exit_code)
