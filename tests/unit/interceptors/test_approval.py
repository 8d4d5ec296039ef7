"""The approval interceptor called directly: channels, the note, the form, stateless state, remembering."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from factories import make_interceptor

from mcpwrap._errors import ConfigError
from mcpwrap._message import Action, ApprovalNeed, Direction, Message, Session, Verdict
from mcpwrap._state.approvals import call_digest, call_of
from mcpwrap.interceptors import parse_policy as parse_config
from mcpwrap.interceptors.approval import (
    DEFAULT_MAX_WAIT_WITHOUT_PROGRESS,
    INPUT_KEY,
    ApprovalInterceptor,
    ApprovalRequirement,
    ApprovalSettings,
    _elicitation_choice,
    _elicitation_params,
    render,
)
from mcpwrap.interceptors.approval.form import FORM_MAX_CHARS, TERMINAL_CHOICE, call_lines

NOTE = {
    "rule": "confirm",
    "timeout": 30.0,
    "on_timeout": "deny",
    "channels": ["elicitation", "stateless", "terminal"],
    "remember": ["once", "session"],
    "reason": "writes files",
}


def need(note: dict) -> ApprovalNeed:
    """The policy's requirement, from a dict shaped like a rule's approve options."""
    return ApprovalNeed(**{k: tuple(v) if isinstance(v, list) else v for k, v in note.items()})


def session(**kw) -> Session:
    # A fresh id per session: approvals remembered for a session live as long as the process.
    return Session(session_id=kw.pop("session_id", None) or secrets.token_hex(8), server="files", **kw)


def call(sess: Session, *, tool="write", args=None, note=NOTE, msg_id=1, extra=None) -> Message:
    params = {"name": tool, "arguments": args if args is not None else {"path": "/tmp/x", "text": "hi"}, **(extra or {})}
    msg = Message(Direction.CLIENT_TO_SERVER, b"", {"jsonrpc": "2.0", "id": msg_id, "method": "tools/call", "params": params}, sess)
    if note is not None:
        msg.notes.approval = need(note)
    return msg


def interceptor(sess: Session, tmp_path) -> ApprovalInterceptor:
    return make_interceptor(ApprovalInterceptor, sess, ApprovalSettings(), key_path=str(tmp_path / "key"))


class FakeHeld:
    """The relay's HeldRequest as seen by a hold callback."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg
        self.replies: list = []
        self.released: list = []
        self.answers: list = []
        self.records: list = []

    def reply(self, response, reason=""):
        self.replies.append(response)

    def release(self, envelope=None):
        self.released.append(envelope)

    def answer(self, verdict):
        self.answers.append(verdict)

    def audit(self, event, **fields):
        self.records.append((event, fields))


LEGACY_ELICIT = dict(protocol_version="2025-11-25", client_capabilities={"elicitation": {"form": {}}})
MODERN_ELICIT = dict(protocol_version="2026-07-28", stateless=True, client_capabilities={"elicitation": {}})


@pytest.mark.parametrize(
    "kw, channels, expected",
    [
        (LEGACY_ELICIT, ["elicitation", "stateless", "terminal"], ["elicitation", "terminal"]),
        (dict(protocol_version="2025-06-18", client_capabilities={"elicitation": {}}), ["elicitation"], ["elicitation"]),
        (dict(protocol_version="2025-11-25", client_capabilities={"elicitation": {"url": {}}}), ["elicitation"], []),  # URL mode only
        (dict(protocol_version="2025-11-25", client_capabilities={}), ["elicitation", "terminal"], ["terminal"]),
        (dict(protocol_version="2025-11-25", client_capabilities={}), ["elicitation", "stateless"], []),
        (MODERN_ELICIT, ["elicitation", "stateless", "terminal"], ["stateless"]),  # servers may not send requests
        (MODERN_ELICIT, ["terminal", "stateless"], ["terminal"]),  # the rule's order decides
        (dict(protocol_version="2026-07-28", stateless=True, client_capabilities={}), ["stateless", "terminal"], ["terminal"]),
        # Claude Code probes with server/discover (stateless) and falls back to initialize: a legacy session.
        ({**LEGACY_ELICIT, "stateless": True}, ["elicitation", "stateless", "terminal"], ["elicitation", "terminal"]),
        # Claude Desktop declares no elicitation: the terminal only.
        (dict(protocol_version="2025-06-18", client_capabilities={}, client_info={"name": "claude-ai"}), ["elicitation", "terminal"], ["terminal"]),
    ],
)
def test_available_channels(tmp_path, kw, channels, expected):
    sess = session(**kw)
    msg = call(sess, note={**NOTE, "channels": channels})
    assert interceptor(sess, tmp_path).available_channels(msg, ApprovalRequirement(msg.notes.approval, ApprovalSettings())) == expected


def test_no_note_no_verdict_and_responses_ignored(tmp_path):
    sess = session(**LEGACY_ELICIT)
    icpt = interceptor(sess, tmp_path)
    assert icpt.inspect(call(sess, note=None)) is None
    response = Message(Direction.SERVER_TO_CLIENT, b"", {"jsonrpc": "2.0", "id": 1, "result": {}}, sess)
    response.notes.approval = need(NOTE)
    assert icpt.inspect(response) is None


def test_held_when_a_channel_exists(tmp_path):
    sess = session(**LEGACY_ELICIT)
    verdict = interceptor(sess, tmp_path).inspect(call(sess))
    assert verdict.action is Action.HOLD and callable(verdict.hold) and verdict.rule == "confirm"


def test_no_channel_blocks_with_instructions_and_no_secret(tmp_path):
    sess = session(protocol_version="2025-11-25")
    verdict = interceptor(sess, tmp_path).inspect(call(sess, note={**NOTE, "channels": ["elicitation"]}))
    assert verdict.action is Action.BLOCK
    assert "mcpwrap approvals" in verdict.reason and "policy rule" in verdict.reason
    assert not (tmp_path / "key").exists()  # nothing was issued


@pytest.mark.parametrize(
    "note",
    [
        {**NOTE, "on_timeout": "maybe"},
        {**NOTE, "channels": ["carrier-pigeon"]},
        {**NOTE, "remember": ["forever"]},
        "approve",
    ],
)
def test_a_malformed_note_raises_so_the_chain_blocks(tmp_path, note):
    sess = session(**LEGACY_ELICIT)
    msg = call(sess)
    msg.notes.approval = need(note) if isinstance(note, dict) else note
    with pytest.raises((ValueError, TypeError)):
        interceptor(sess, tmp_path).inspect(msg)


def test_requirement_defaults():
    req = ApprovalRequirement(ApprovalNeed(rule="r", reason=""), ApprovalSettings())  # a rule's defaults
    assert req.timeout == 120.0 and req.on_timeout == "deny" and req.remember == ["once", "session", "always"]
    assert req.channels == ["elicitation", "stateless", "terminal"]
    assert ApprovalRequirement(ApprovalNeed(rule="r", reason="", remember=("always",)), ApprovalSettings()).remember == ["once", "always"]


def form_of(msg: Message, req: ApprovalRequirement, **kw) -> dict:
    return _elicitation_params(msg, req, 30, call_digest(msg.session.server, call_of(msg.method, msg.params)), modern_form=True, **kw)


def test_form_shows_server_tool_arguments_digest_rule_and_remember_choices():
    sess = session(**LEGACY_ELICIT)
    req = ApprovalRequirement(need(NOTE), ApprovalSettings())
    msg = call(sess)
    params = form_of(msg, req)
    assert "'files'" in params["message"] and "Tool: write" in params["message"]
    assert 'path: "/tmp/x"' in params["message"] and "confirm — writes files" in params["message"]
    digest = call_digest("files", call_of(msg.method, msg.params))
    assert f"Call digest: {digest[:len('sha256:') + 16]}" in params["message"]
    assert params["mode"] == "form"
    props = params["requestedSchema"]["properties"]
    # Deny is first and the default: a client that fills in a form by itself refuses.
    assert props["decision"]["enum"] == ["deny", "approve"] and props["decision"]["default"] == "deny"
    assert props["remember"]["enum"] == ["once", "session"]
    assert "this exact call (same tool, same arguments) again" in props["remember"]["description"]  # the form says what session means
    assert "mode" not in _elicitation_params(msg, req, 30, digest, modern_form=False)  # 2025-06-18 has no mode
    with_terminal = form_of(msg, req, terminal=("1a2b3c4d", "ABCD-EFGH"))
    assert "mcpwrap approve 1a2b3c4d" in with_terminal["message"] and "ABCD-EFGH" in with_terminal["message"]
    assert with_terminal["requestedSchema"]["properties"]["decision"]["enum"] == ["deny", "approve", TERMINAL_CHOICE]


def test_every_argument_is_shown_whole_and_visible():
    """Nothing is cut: each argument appears in full, invisible characters escaped, and parses back exactly."""
    args = {f"k{i}": "x" * 1000 for i in range(5)} | {"tail": "harmless... \u202e\u200b\n; rm -rf ~", "n": [1, {"a": None}]}
    lines = call_lines({"method": "tools/call", "params": {"name": "write", "arguments": args}})
    assert lines[:2] == ["Tool: write", "Arguments:"]
    shown = dict(line.strip().split(": ", 1) for line in lines[2:])
    assert {k: json.loads(v) for k, v in shown.items()} == args
    assert all(line.isprintable() for line in lines)
    assert "\\u202e" in shown["tail"] and "\\u200b" in shown["tail"] and "\\n" in shown["tail"]


def test_a_call_too_long_for_a_form_cannot_be_approved_in_it():
    sess = session(**LEGACY_ELICIT)
    req = ApprovalRequirement(need(NOTE), ApprovalSettings())
    msg = call(sess, args={"path": "/tmp/x", "text": "a" * FORM_MAX_CHARS + "; and a dangerous tail"})
    form = form_of(msg, req, terminal=("1a2b3c4d", "ABCD-EFGH"))
    assert form["requestedSchema"]["properties"]["decision"]["enum"] == ["deny", TERMINAL_CHOICE]
    assert "remember" not in form["requestedSchema"]["properties"]
    assert "too long to show here in full" in form["message"] and "cannot be approved in this form" in form["message"]
    assert "mcpwrap approve 1a2b3c4d" in form["message"] and "dangerous tail" not in form["message"]
    assert form_of(msg, req)["requestedSchema"]["properties"]["decision"]["enum"] == ["deny"]  # no terminal: deny only
    # An "approve" the form did not offer is a denial.
    answer = {"action": "accept", "content": {"decision": "approve"}}
    assert _elicitation_choice(answer, ["once"], ("deny", TERMINAL_CHOICE))[0] == "deny"


def test_render_is_json_a_person_can_read():
    value = {"é": "日本 \u2028 \ud800", "n": 1.5, "t": True}
    text = render(value)
    assert text.isprintable() and json.loads(text) == value and "日本" in text


@pytest.mark.parametrize(
    "result, expected",
    [
        ({"action": "accept", "content": {"decision": "approve"}}, ("approve", "once", "chose approve")),
        ({"action": "accept", "content": {"decision": "approve", "remember": "session"}}, ("approve", "session", "chose approve")),
        ({"action": "accept", "content": {"decision": "approve", "remember": "always"}}, ("approve", "once", "chose approve")),  # not offered
        ({"action": "accept", "content": {"decision": "APPROVE"}}, ("deny", "once", "chose deny")),
        ({"action": "accept"}, ("deny", "once", "chose deny")),
        ({"action": "decline"}, ("deny", "once", "decline")),
        ({"action": "cancel"}, ("deny", "once", "cancel")),
        ({"action": "approve"}, ("deny", "once", "invalid answer")),
        (None, ("deny", "once", "invalid answer")),
    ],
)
def test_elicitation_answers(result, expected):
    assert _elicitation_choice(result, ["once", "session"]) == expected


# --- stateless ------------------------------------------------------------------------------------------------


def first_leg(tmp_path, sess, **kw):
    icpt = interceptor(sess, tmp_path)
    msg = call(sess, extra={"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}, **kw)
    verdict = icpt.inspect(msg)
    held = FakeHeld(msg)
    verdict.hold(held)
    (reply,) = held.replies
    return icpt, reply["result"]


def retry(sess, state, *, args=None, answer=None, msg_id=2, tool="write"):
    responses = {INPUT_KEY: answer or {"action": "accept", "content": {"decision": "approve"}}}
    return call(sess, tool=tool, args=args, msg_id=msg_id, extra={"_meta": {"progressToken": 7}, "inputResponses": responses, "requestState": state})


def test_stateless_first_leg_is_input_required(tmp_path):
    sess = session(**MODERN_ELICIT)
    _, result = first_leg(tmp_path, sess)
    assert result["resultType"] == "input_required"
    request = result["inputRequests"][INPUT_KEY]
    assert request["method"] == "elicitation/create" and request["params"]["mode"] == "form"
    assert result["requestState"].startswith("mcpwrap1.")
    assert oct((tmp_path / "key").stat().st_mode & 0o777) == "0o600"


def test_stateless_retry_forwards_the_frozen_call_without_mcpwrap_fields(tmp_path):
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess)
    msg = retry(sess, result["requestState"])
    verdict = icpt.inspect(msg)
    assert verdict.action is Action.HOLD
    held = FakeHeld(msg)
    verdict.hold(held)
    (forward,) = held.released
    assert forward == {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "write", "arguments": {"path": "/tmp/x", "text": "hi"}, "_meta": {"progressToken": 7}},
    }
    assert [f["status"] for e, f in held.records if e == "approval"] == ["approved"]


def test_stateless_decline_is_answered_with_a_block(tmp_path):
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess)
    msg = retry(sess, result["requestState"], answer={"action": "decline"})
    held = FakeHeld(msg)
    icpt.inspect(msg).hold(held)
    assert held.released == [] and len(held.answers) == 1


@pytest.mark.parametrize("how", ["tampered", "other-session", "other-key", "replay", "expired", "other-args", "other-tool", "garbage"])
def test_stateless_state_is_refused(tmp_path, how):
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess, note={**NOTE, "timeout": 0.05} if how == "expired" else NOTE)
    state = result["requestState"]
    checker, args, tool = icpt, None, "write"
    if how == "tampered":
        state = state.replace(state[12], "A" if state[12] != "A" else "B", 1)
    elif how == "other-session":
        checker = interceptor(session(**MODERN_ELICIT), tmp_path)
    elif how == "other-key":
        checker = make_interceptor(ApprovalInterceptor, sess, ApprovalSettings(), key_path=str(tmp_path / "other-key"))
    elif how == "replay":
        assert icpt.inspect(retry(sess, state)).action is Action.HOLD
    elif how == "expired":
        time.sleep(0.1)
    elif how == "other-args":
        args = {"path": "/etc/passwd", "text": "hi"}
    elif how == "other-tool":
        tool = "delete"
    elif how == "garbage":
        state = "mcpwrap1.not-base64!.x"
    verdict = checker.inspect(retry(sess, state, args=args, tool=tool, msg_id=3))
    assert verdict.action is Action.BLOCK and verdict.rule == "approval-state"
    assert "not valid" in verdict.reason and state not in verdict.reason


def test_session_memory_survives_a_reload_and_remembers_the_exact_call(tmp_path):
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess)
    msg = retry(sess, result["requestState"], answer={"action": "accept", "content": {"decision": "approve", "remember": "session"}})
    icpt.inspect(msg).hold(FakeHeld(msg))
    icpt.configure(ApprovalSettings())  # SIGHUP reconfigures the same chain
    reloaded = icpt
    verdict = reloaded.inspect(call(sess, msg_id=5))
    assert verdict.action is Action.PASS and verdict.rule == "confirm"
    # "session" is this exact call: other or one more argument is asked again.
    assert reloaded.inspect(call(sess, msg_id=6, args={"path": "/other", "text": "hi"})).action is Action.HOLD
    assert reloaded.inspect(call(sess, msg_id=7, args={"path": "/tmp/x", "text": "hi", "force": True})).action is Action.HOLD
    other = session(**MODERN_ELICIT)
    assert interceptor(other, tmp_path).inspect(call(other)).action is Action.HOLD


# --- settings ---------------------------------------------------------------------------------------------------


def test_settings_section_parses_and_defaults():
    config = parse_config({"approval": {"default_timeout": 60, "progress_interval": 5, "desktop_notification": True, "queue": "~/q"}})
    s = config["approval"]
    assert (s.default_timeout, s.progress_interval, s.desktop_notification) == (60.0, 5.0, True)
    assert s.queue.endswith("/q") and not s.queue.startswith("~")
    assert parse_config({})["approval"].max_wait_without_progress == DEFAULT_MAX_WAIT_WITHOUT_PROGRESS


@pytest.mark.parametrize(
    "raw, where",
    [
        ({"approval": {"timeout": 5}}, "approval.timeout"),
        ({"approval": {"default_timeout": 0}}, "approval.default_timeout"),
        ({"approval": {"progress_interval": "10s"}}, "approval.progress_interval"),
        ({"approval": {"desktop_notification": "yes"}}, "approval.desktop_notification"),
        ({"approval": []}, "approval"),
    ],
)
def test_settings_errors_name_the_key(raw, where):
    with pytest.raises(ConfigError) as err:
        parse_config(raw, file="p.yaml")
    assert where in str(err.value)


def test_audit_never_sees_the_state(tmp_path):
    sess = session(**MODERN_ELICIT)
    icpt = interceptor(sess, tmp_path)
    msg = call(sess)
    held = FakeHeld(msg)
    icpt.inspect(msg).hold(held)
    state = held.replies[0]["result"]["requestState"]
    assert state not in json.dumps(held.records)


def server_answer(sess: Session, msg_id, result: dict) -> Message:
    return Message(Direction.SERVER_TO_CLIENT, b"", {"jsonrpc": "2.0", "id": msg_id, "result": result}, sess)


def test_server_rounds_of_an_approved_call_continue_once_with_the_servers_state_only(tmp_path):
    """The server may answer the approved call with its own input_required; the client's retry carrying exactly that
    requestState continues the call, once. Any other state, a second use, or another call is asked again."""
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess)
    msg = retry(sess, result["requestState"])
    icpt.inspect(msg).hold(FakeHeld(msg))
    server_round = {"inputResponses": {"server-key": {"action": "accept"}}, "requestState": "server-opaque"}
    # Before the server answered, no state continues anything (what replayed on the old design).
    assert icpt.inspect(call(sess, msg_id=3, extra=dict(server_round))).action is Action.HOLD
    icpt.inspect(server_answer(sess, 2, {"resultType": "input_required", "inputRequests": {}, "requestState": "server-opaque"}))
    for state in ("made-up", "server-opaque2", ""):
        assert icpt.inspect(call(sess, msg_id=4, extra={**server_round, "requestState": state})).action is Action.HOLD, state
    other_args = call(sess, msg_id=5, args={"path": "/etc/passwd"}, extra=dict(server_round))
    assert icpt.inspect(other_args).action is Action.HOLD
    verdict = icpt.inspect(call(sess, msg_id=6, extra=dict(server_round)))
    assert verdict.action is Action.PASS and verdict.details == {"approval": "continuation"}
    assert icpt.inspect(call(sess, msg_id=7, extra=dict(server_round))).action is Action.HOLD  # used once
    # The continued round may itself get another round from the server: chained, each state once.
    icpt.inspect(server_answer(sess, 6, {"resultType": "input_required", "inputRequests": {}, "requestState": "round-2"}))
    assert icpt.inspect(call(sess, msg_id=8, extra={**server_round, "requestState": "round-2"})).action is Action.PASS
    assert icpt.inspect(call(sess, msg_id=9, extra={**server_round, "requestState": "round-2"})).action is Action.HOLD
    assert icpt.inspect(call(sess, msg_id=10)).action is Action.HOLD  # the same call without a state is a new call


def test_a_server_round_that_needs_approval_keeps_the_servers_fields(tmp_path):
    sess = session(**MODERN_ELICIT)
    server_fields = {"inputResponses": {"server-key": {"action": "accept", "content": {"ok": True}}}, "requestState": "server-opaque"}
    icpt = interceptor(sess, tmp_path)
    first = call(sess, extra=dict(server_fields))
    held = FakeHeld(first)
    icpt.inspect(first).hold(held)
    state = held.replies[0]["result"]["requestState"]
    msg = retry(sess, state)
    held = FakeHeld(msg)
    icpt.inspect(msg).hold(held)
    (forward,) = held.released
    assert forward["params"]["requestState"] == "server-opaque"
    assert forward["params"]["inputResponses"] == server_fields["inputResponses"]


def test_chain_stops_at_a_hold_and_refuses_to_hold_a_response():
    from mcpwrap._chain import Chain, ChainContext, Interceptor

    class Holder(Interceptor):
        name = "holder"

        def inspect(self, msg):
            return Verdict.held(lambda held: None, reason="wait")

    class After(Interceptor):
        name = "after"
        seen = 0

        def inspect(self, msg):
            After.seen += 1

    sess = session()
    ctx = ChainContext(sess)
    chain = Chain([Holder(ctx), After(ctx)])
    outcome = chain.run(call(sess, note=None))
    assert outcome.action is Action.HOLD and outcome.decisive.interceptor == "holder" and After.seen == 0
    response = Message(Direction.SERVER_TO_CLIENT, b"", {"jsonrpc": "2.0", "id": 1, "result": {}}, sess)
    outcome = chain.run(response)
    assert outcome.action is Action.BLOCK and outcome.decisive.rule == "interceptor-error"


@pytest.mark.parametrize(
    "tool, args",
    [
        ("write\n\nRule: pre-approved", {"path": "/tmp/x"}),
        ("write", {"path\nRule: safe": "x"}),
        ("write", {"path": "/tmp/\u202eexe.txt"}),  # a right-to-left override hides the real name
        ("write\u200b", {"path": "x"}),
    ],
)
def test_the_form_cannot_be_forged_by_names_or_values(tool, args):
    sess = session(**LEGACY_ELICIT)
    req = ApprovalRequirement(need(NOTE), ApprovalSettings())
    message = form_of(call(sess, tool=tool, args=args), req)["message"]
    assert sum(line.startswith("Rule:") for line in message.splitlines()) == 1
    assert all(line.isprintable() for line in message.splitlines())


@pytest.mark.parametrize("typed", ["7KQ2-M9XD", "7kq2 m9xd", "7KQ2M9XD", "7-K-Q-2-M-9-X-D", "7kq2_m9xd"])
def test_no_client_message_carrying_a_live_code_reaches_the_server(tmp_path, typed):
    # A server's form asking for the code (phishing) gets no answer that holds it, however the person typed it.
    sess = session()
    icpt = interceptor(sess, tmp_path)
    icpt.live_codes.add("7KQ2M9XD")
    answer = {"jsonrpc": "2.0", "id": "e1", "result": {"action": "accept", "content": {"code": typed}}}
    raw = json.dumps(answer).encode()
    verdict = icpt.inspect(Message(Direction.CLIENT_TO_SERVER, raw, answer, sess))
    assert verdict is not None and verdict.action is Action.BLOCK and verdict.rule == "approval-code-guard"
    icpt.live_codes.clear()  # decided: the code is dead, and the same text is just text
    assert icpt.inspect(Message(Direction.CLIENT_TO_SERVER, raw, answer, sess)) is None


def test_a_servers_own_form_says_whose_it_is(tmp_path):
    sess = session()
    icpt = interceptor(sess, tmp_path)
    phish = "mcpwrap: a call waits for your approval. Type the one-time code."
    env = {"jsonrpc": "2.0", "id": "e1", "method": "elicitation/create", "params": {"message": phish, "requestedSchema": {"type": "object"}}}
    verdict = icpt.inspect(Message(Direction.SERVER_TO_CLIENT, json.dumps(env).encode(), env, sess))
    assert verdict is not None and verdict.action is Action.MODIFY
    shown = verdict.envelope["params"]["message"]
    assert shown.startswith("[A request from the MCP server 'files', not from mcpwrap.]") and shown.endswith(phish)
