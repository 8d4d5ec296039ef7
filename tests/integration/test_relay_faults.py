"""Faults real servers can't produce, through the real mcpwrap process: every request is answered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from rig import FAKE, MCPWRAP, RawPeer, child_env, read_audit, wrap_command

from mcpwrap._relay import jsonrpc as rpc

pytestmark = pytest.mark.integration

CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "hi"}}}


def call(msg_id, name="echo", **args):
    return {"jsonrpc": "2.0", "id": msg_id, "method": "tools/call", "params": {"name": name, "arguments": args}}


def peer(tmp_path, *fake_args, options=(), script=None, stderr=None):
    """The fake server behind the real wrapper; with ``script``, behind the wrapper plus a scripted interceptor."""
    cmd = wrap_command([*FAKE, *fake_args], *options, audit_log=tmp_path / "audit.jsonl", hooked=script is not None)
    return RawPeer(cmd, env=scripted(**script) if script is not None else None, stderr=stderr)


def scripted(**script):
    return child_env(MCPWRAP_TEST_HOOKS="mcpwrap.testing:ScriptedInterceptor", MCPWRAP_TEST_SCRIPT=json.dumps(script))


def test_unmodified_messages_pass_byte_for_byte(tmp_path):
    odd = b'{ "id" : 7 , "method":"tools/call" ,"jsonrpc":"2.0","params":{"name":"echo","arguments":{"n":1.0E+2,"s":"\\u00e9\\/"}}}\n'
    with peer(tmp_path) as p:
        p.send(odd)
        reply = p.recv()
        assert reply["id"] == 7
        # the fake server echoes the arguments it parsed: the number spelling reached it untouched
        assert json.loads(reply["result"]["content"][0]["text"]) == {"n": 100.0, "s": "é/"}


def test_crash_mid_request_answers_pending_and_returns_the_exit_code(tmp_path):
    with peer(tmp_path, "--crash-on", "tools/call", "--crash-code", "3") as p:
        p.send(call(1))
        reply = p.recv()
        assert reply["id"] == 1 and reply["error"]["code"] == rpc.SERVER_UNAVAILABLE
        assert "status 3" in reply["error"]["message"]
        assert p.proc.wait(10) == 3
    events = [r["event"] for r in read_audit(tmp_path / "audit.jsonl")]
    assert "answered-on-exit" in events and events[-1] == "session-end"


def test_garbage_from_the_server_is_refused_and_the_session_continues(tmp_path):
    with peer(tmp_path, "--garbage") as p:
        for i in range(3):
            p.send(call(i))
            reply = p.recv()
            assert reply["id"] == i and "result" in reply
    refused = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "refused"]
    reasons = " | ".join(r["reason"] for r in refused)
    assert "not valid JSON" in reasons and "UTF-8" in reasons and "appears twice" in reasons
    assert all(r["direction"] == "s2c" for r in refused)


@pytest.mark.parametrize(
    "line, code",
    [
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","name":"rm"}}\n', rpc.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"\xff"}}\n', rpc.PARSE_ERROR),
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"\n', rpc.PARSE_ERROR),
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":"flat"}\n', rpc.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"v":NaN}}\n', rpc.PARSE_ERROR),
    ],
    ids=["duplicate-key", "non-utf8", "truncated", "bad-params", "nan"],
)
def test_unexaminable_client_requests_are_answered_not_forwarded(tmp_path, line, code):
    with peer(tmp_path) as p:
        p.send(line)
        reply = p.recv()
        assert reply["id"] == 5 and reply["error"]["code"] == code
        p.send(call(6))  # the session continues
        assert p.recv()["id"] == 6
    refused = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "refused"]
    assert len(refused) == 1 and refused[0]["answered"] == "sender"
    forwarded = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "message" and r["direction"] == "c2s"]
    assert [r["id"] for r in forwarded] == [6]


def test_a_100_mb_line_from_the_server_is_refused_and_the_call_answered(tmp_path):
    with peer(tmp_path, "--huge-line-bytes", str(100 * 1024 * 1024)) as p:
        p.send(call(1, "huge"))
        reply = p.recv(timeout=120)
        assert reply["id"] == 1 and reply["error"]["code"] == rpc.INTERNAL_ERROR
        assert "exceeds the limit" in reply["error"]["message"]
        p.send(call(2))
        assert p.recv()["id"] == 2
    refused = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "refused"]
    assert refused[0]["size"] > 100 * 1024 * 1024 and refused[0]["answered"] == "client"


def test_oversized_client_request_is_answered(tmp_path):
    with peer(tmp_path, options=["--max-message-bytes", "1000"]) as p:
        p.send(call(9, message="x" * 5000))
        reply = p.recv()
        assert reply["id"] == 9 and reply["error"]["code"] == rpc.INVALID_REQUEST


def test_final_message_without_newline_is_delivered(tmp_path):
    with peer(tmp_path, "--no-final-newline") as p:
        p.send(call(1, "bye"))
        assert p.recv() == {"jsonrpc": "2.0", "id": 1, "result": {"content": []}}
        assert p.proc.wait(10) == 0


def test_server_that_ignores_eof_and_sigterm_is_killed(tmp_path):
    # Reads nothing, exits on neither EOF nor SIGTERM: mcpwrap must escalate to SIGKILL of the group.
    hang = [sys.executable, "-c", "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"]
    proc = subprocess.Popen(wrap_command(hang, audit_log=tmp_path / "a.jsonl"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdin.write(json.dumps(call(1)).encode() + b"\n")
    proc.stdin.close()
    out = proc.stdout.read()
    assert proc.wait(20) == 128 + signal.SIGKILL
    # the request it never answered was answered by mcpwrap
    assert json.loads(out)["error"]["code"] == rpc.SERVER_UNAVAILABLE


def test_non_zero_exit_is_returned(tmp_path):
    with peer(tmp_path, "--exit-code", "7") as p:
        p.send(call(1))
        p.recv()
        assert p.close() == 7


def test_stderr_flood_passes_through_without_blocking(tmp_path):
    err = open(tmp_path / "stderr.txt", "wb")
    with peer(tmp_path, "--stderr-flood", str(5 * 1024 * 1024), stderr=err) as p:
        p.send(call(1))
        assert p.recv()["id"] == 1
    err.close()
    assert (tmp_path / "stderr.txt").stat().st_size >= 5 * 1024 * 1024


def test_command_not_found_is_a_clear_error_with_exit_127(tmp_path):
    proc = subprocess.run([*MCPWRAP, "wrap", "--audit-log", str(tmp_path / "a.jsonl"), "--", "no-such-server-xyz"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 127
    assert "command not found: no-such-server-xyz" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_unwritable_audit_log_is_a_startup_error(tmp_path):
    # audit.on_failure: block (the default): a log that cannot be opened stops mcpwrap before any traffic.
    # (A log that fails later in a session answers requests with the block contract: test_audit_integration.)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")  # a file where a directory should be: unwritable even for root
    proc = subprocess.run(
        [*MCPWRAP, "wrap", "--audit-log", str(blocker / "audit.jsonl"), "--", *FAKE],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1
    assert "cannot open audit log" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_sigterm_is_forwarded_and_sighup_does_not_kill(tmp_path):
    with peer(tmp_path) as p:
        p.send(call(1))
        p.recv()
        p.proc.send_signal(signal.SIGHUP)
        p.send(call(2))
        assert p.recv()["id"] == 2
        p.proc.send_signal(signal.SIGTERM)
        assert p.proc.wait(10) == 128 + signal.SIGTERM


def test_no_orphans_the_whole_process_group_ends(tmp_path):
    (tmp_path / "run").mkdir()  # not beside the audit log: the sandbox keeps the server out of that directory
    pidfile = tmp_path / "run" / "pids"
    with peer(tmp_path, "--spawn-grandchild", "--pidfile", str(pidfile)) as p:
        p.send(call(1))
        p.recv()
        assert p.close() == 0
    assert len(pidfile.read_text().split()) == 2  # the server and its grandchild both started
    # Their pids are the server's own (a PID namespace when sandboxed): find them by the pidfile's path in
    # their command lines instead.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _running_with(str(pidfile)):
        time.sleep(0.05)
    assert not _running_with(str(pidfile))


def _running_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read() and _alive(int(entry)):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


# --- the block contract, driven through the real process by the scripted test interceptor -------------------


def test_blocked_tools_call_gets_the_is_error_result(tmp_path):
    with peer(tmp_path, script=dict(block=["tools/call:echo"])) as p:
        reply = p.request(1, "tools/call", {"name": "echo", "arguments": {}})
        result = reply["result"]
        assert result["isError"] is True
        assert result["_meta"]["mcpwrap"] == {"action": "block", "reason": "test script blocks tools/call:echo", "rule": "test-block", "interceptor": "test"}
    records = read_audit(tmp_path / "audit.jsonl")
    blocked = [r for r in records if r.get("action") == "block"]
    assert blocked[0]["rule"] == "test-block" and blocked[0]["tool"] == "echo"
    assert not [r for r in records if r.get("direction") == "s2c" and r.get("event") == "message"]  # never reached the server


def test_blocked_other_request_gets_an_error_and_blocked_notification_is_dropped(tmp_path):
    with peer(tmp_path, script=dict(block=["resources/list", "notifications/roots/list_changed"])) as p:
        p.send({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"})
        reply = p.request(3, "resources/list", {})
        assert reply["error"]["code"] == rpc.BLOCKED and reply["error"]["data"]["mcpwrap"]["rule"] == "test-block"
    records = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "message"]
    assert {(r["method"], r["action"]) for r in records} == {("notifications/roots/list_changed", "block"), ("resources/list", "block")}


def test_blocked_response_is_replaced_so_the_caller_is_answered(tmp_path):
    with peer(tmp_path, script=dict(block=["tools/call:echo#response"])) as p:
        reply = p.request(1, "tools/call", {"name": "echo", "arguments": {"secret": "s3cr3t"}})
        assert reply["result"]["isError"] is True and "s3cr3t" not in json.dumps(reply)


def test_interceptor_that_raises_blocks_and_is_audited(tmp_path):
    with peer(tmp_path, script=dict(**{"raise": ["tools/call"]})) as p:
        reply = p.request(1, "tools/call", {"name": "echo", "arguments": {}})
        assert reply["result"]["isError"] is True
        assert reply["result"]["_meta"]["mcpwrap"]["rule"] == "interceptor-error"
        p.send(call(2, "echo"))
        assert p.recv()["id"] == 2  # the session survives


def test_modified_result_carries_meta(tmp_path):
    with peer(tmp_path, script=dict(modify=["tools/call:echo#response"])) as p:
        reply = p.request(1, "tools/call", {"name": "echo", "arguments": {"a": 1}})
        assert reply["result"]["content"][0]["text"].endswith(" [modified]")
        assert reply["result"]["_meta"]["mcpwrap"]["action"] == "modify"


def test_blocked_server_to_client_request_is_answered_to_the_server_only(tmp_path):
    with peer(tmp_path, "--request-on-call", "sampling/createMessage", script=dict(block=["sampling/createMessage"])) as p:
        p.send(call(1))
        reply = p.recv()  # the client never sees the sampling request: only the final answer
        assert reply["id"] == 1
        server_saw = json.loads(reply["result"]["content"][0]["text"])
        assert server_saw["error"]["code"] == rpc.BLOCKED


def test_server_to_client_request_and_its_answer_pass_in_their_own_id_space(tmp_path):
    with peer(tmp_path, "--request-on-call", "sampling/createMessage") as p:
        p.send(call(0))  # client id 0 and server id 0 overlap on purpose
        req = p.recv()
        assert req["method"] == "sampling/createMessage" and req["id"] == 0
        p.send({"jsonrpc": "2.0", "id": 0, "result": {"role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "m"}})
        reply = p.recv()
        assert reply["id"] == 0 and "result" in reply
        assert json.loads(reply["result"]["content"][0]["text"])["result"]["model"] == "m"


def test_batches_are_examined_element_by_element(tmp_path):
    with peer(tmp_path, script=dict(block=["tools/call:rm"])) as p:
        p.send([call(1, "echo"), call(2, "rm"), {"jsonrpc": "2.0", "method": "notifications/x"}, call(3, "echo")])
        got: dict = {}
        while len(got) < 3:
            msg = p.recv()
            for element in msg if isinstance(msg, list) else [msg]:
                got[element["id"]] = element
        assert got[2]["result"]["isError"] is True  # answered by mcpwrap
        assert "isError" not in got[1]["result"] and "isError" not in got[3]["result"]  # answered by the server
    records = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "message" and r["direction"] == "c2s"]
    assert sorted((r.get("id", 0), r["action"]) for r in records) == [(0, "pass"), (1, "pass"), (2, "block"), (3, "pass")]


def test_all_passing_batch_is_forwarded_as_is(tmp_path):
    with peer(tmp_path) as p:
        p.send([call(1), call(2)])
        reply = p.recv()
        assert isinstance(reply, list) and {r["id"] for r in reply} == {1, 2}


def test_duplicate_in_flight_id_is_refused(tmp_path):
    with peer(tmp_path, "--request-on-call", "roots/list") as p:
        p.send(call(1))
        p.recv()  # the server's roots/list request: call 1 is now pending
        p.send(call(1))
        reply = p.recv()
        assert reply["id"] == 1 and reply["error"]["code"] == rpc.INVALID_REQUEST and "already in flight" in reply["error"]["message"]


def test_response_to_unknown_id_from_server_is_dropped(tmp_path):
    with peer(tmp_path, "--garbage") as p:  # the garbage includes a response to id "no-such" (duplicate keys)
        p.send(call(1))
        assert p.recv()["id"] == 1


def test_cancelled_request_late_response_is_not_an_error(tmp_path):
    with peer(tmp_path, "--request-on-call", "roots/list") as p:
        p.send(call(1))
        server_req = p.recv()
        p.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "reason": "user"}})
        p.send({"jsonrpc": "2.0", "id": server_req["id"], "result": {"roots": []}})
        late = p.recv()
        assert late["id"] == 1
    records = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "message"]
    assert any(r.get("cancelled") for r in records if r["direction"] == "s2c" and r["id"] == 1)


def test_invalid_policy_is_a_clear_error_and_leaves_no_child(tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text("audit:\n  record_arguments: everything\n")
    # Not beside the policy file: the sandbox keeps the server out of the directory entries next to mcpwrap's
    # files (it can create files in subdirectories only).
    (tmp_path / "run").mkdir()
    pidfile = tmp_path / "run" / "pids"
    proc = subprocess.run(
        [*MCPWRAP, "wrap", "--policy", str(bad), "--audit-log", str(tmp_path / "a.jsonl"), "--", *FAKE, "--pidfile", str(pidfile)],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert f"{bad}:2:" in proc.stderr and "record_arguments" in proc.stderr and "Traceback" not in proc.stderr
    # the server may have started before the policy was read: it must be gone
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _running_with(str(pidfile)):
        time.sleep(0.05)
    assert not _running_with(str(pidfile))


def test_requests_after_the_server_died_are_answered(tmp_path):
    # The server exits right after its first answer; later requests must still get an answer, never silence.
    with peer(tmp_path, "--crash-on", "ping", "--crash-code", "0") as p:
        p.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        for i in range(2, 6):
            try:
                p.send(call(i))
            except BrokenPipeError:
                break
        answered = set()
        while True:
            try:
                msg = p.recv(timeout=10)
            except EOFError:
                break
            answered.add(msg["id"])
            assert msg["error"]["code"] == rpc.SERVER_UNAVAILABLE
        assert 1 in answered
        forwarded_or_sent = {r["id"] for r in read_audit(tmp_path / "audit.jsonl") if r.get("event") == "message" and r.get("direction") == "c2s"}
        assert forwarded_or_sent <= answered  # every request mcpwrap accepted was answered
