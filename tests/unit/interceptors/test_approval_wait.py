"""A held call waiting for a person, driven directly: the one-time code, wrong attempts, forms nobody saw.

The interceptor holds a call; a stand-in for the relay's HeldRequest records what the wait does; a private
session bus with a recording notification service is the person's screen (approval_rig.fake_notifier).
"""

from __future__ import annotations

import json
import secrets
import threading
import time

import pytest
from approval_rig import code_in, fake_notifier, no_session_bus, notifications, wait_for_code
from factories import make_interceptor

from mcpwrap._message import Action, ApprovalNeed, Direction, Message, Session
from mcpwrap._state.approvals import MAX_CODE_ATTEMPTS, ApprovalQueue, call_digest, call_of, decision_mac, normalize_code
from mcpwrap.interceptors.approval import ApprovalInterceptor, ApprovalSettings
from mcpwrap.interceptors.approval import wait as wait_module
from mcpwrap.interceptors.approval.form import FORM_MAX_CHARS, TERMINAL_CHOICE

DEADLINE = 20.0  # seconds a test waits for the waiting thread (a slow shared machine)
NEED = ApprovalNeed(rule="confirm", reason="writes files", timeout=60.0, channels=("elicitation", "terminal"), remember=("once", "session"))
NO_FORMS = dict(protocol_version="2025-11-25", client_capabilities={})
FORMS = dict(protocol_version="2025-11-25", client_capabilities={"elicitation": {"form": {}}}, client_info={"name": "some-client", "version": "1"})
CLAUDE_CODE = dict(FORMS, client_info={"name": "claude-code", "version": "2.1.328"})


class Held:
    """The relay's HeldRequest as a hold callback sees it, recording everything."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg
        self.id = msg.id
        self.forward_bytes = json.dumps(msg.envelope).encode()
        self.progress_token = None
        self.held_at = time.monotonic()
        self.ended = threading.Event()
        self.callbacks: list = []
        self.records: list = []
        self.released: list = []
        self.answers: list = []
        self.asked: list = []
        self.withdrawn: list = []

    @property
    def held_seconds(self) -> float:
        return time.monotonic() - self.held_at

    def is_ended(self) -> bool:
        return self.ended.is_set()

    def on_end(self, callback) -> None:
        self.callbacks.append(callback)

    def _end(self, reason: str) -> bool:
        if self.ended.is_set():
            return False
        self.ended.set()
        for cb in self.callbacks:
            cb(reason)
        return True

    def release(self, envelope=None) -> bool:
        self.released.append(envelope)
        return self._end("released")

    def answer(self, verdict) -> bool:
        self.answers.append(verdict)
        return self._end("answered")

    def reply(self, response, reason="") -> bool:
        return self._end("answered")

    def progress(self, progress, total=None, message=None) -> bool:
        return False

    def ask_client(self, method, params, on_response):
        self.asked.append((method, params, on_response))
        return f"own-{len(self.asked)}"

    def withdraw(self, request_id, reason) -> bool:
        self.withdrawn.append(request_id)
        return True

    def audit(self, event, **fields) -> None:
        self.records.append((event, fields))

    def statuses(self) -> list[str]:
        return [f["status"] for e, f in self.records if e == "approval"]

    def wait_end(self) -> None:
        assert self.ended.wait(DEADLINE), self.statuses()


@pytest.fixture
def screen(tmp_path, monkeypatch):
    """The person's screen: a private session bus whose notification service records what it shows."""
    directory = tmp_path / "screen"
    for name, value in fake_notifier(directory).items():
        monkeypatch.setenv(name, value)
    return directory


def hold(tmp_path, session_kw: dict, *, args=None, need=NEED, settings=None) -> tuple[ApprovalInterceptor, Held]:
    sess = Session(session_id=secrets.token_hex(8), server="files", subject="alice", **session_kw)
    icpt = make_interceptor(ApprovalInterceptor, sess, settings or ApprovalSettings(), queue=ApprovalQueue(tmp_path / "queue"), key_path=str(tmp_path / "key"))
    params = {"name": "write", "arguments": args if args is not None else {"path": "/tmp/x", "text": "hi"}}
    msg = Message(Direction.CLIENT_TO_SERVER, b"", {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}, sess)
    msg.notes.approval = need
    verdict = icpt.inspect(msg)
    assert verdict.action is Action.HOLD
    held = Held(msg)
    verdict.hold(held)
    return icpt, held


def digest_of(held: Held) -> str:
    return call_digest("files", call_of(held.msg.method, held.msg.params))


def attempt(icpt: ApprovalInterceptor, approval_id: str, digest: str, code: str, remember: str = "once") -> dict:
    """What `mcpwrap approve` does once the person typed ``code``: the decision, then the wrapper's answer."""
    mac = decision_mac(normalize_code(code) or "00000000", approval_id, digest, "approve", remember)
    token = icpt.queue.send_decision(approval_id, "approve", remember=remember, digest=digest, mac=mac)
    answer = icpt.queue.wait_answer(approval_id, token, DEADLINE)
    assert answer is not None
    return answer


def wrong(code: str) -> str:
    return ("1" if code[0] != "1" else "2") + code[1:]


def assert_code_never_written(tmp_path, held: Held, code: str) -> None:
    plain, bare = code, code.replace("-", "")
    everything = json.dumps(held.records) + json.dumps([v.reason for v in held.answers])
    for path in (tmp_path / "queue").rglob("*") if (tmp_path / "queue").exists() else ():
        everything += path.name + path.read_text(errors="replace")
    assert plain not in everything and bare not in everything


def test_the_terminal_approves_only_with_the_code(tmp_path, screen):
    icpt, held = hold(tmp_path, NO_FORMS)
    approval_id, code = wait_for_code(screen)
    digest = digest_of(held)
    queue = tmp_path / "queue"
    # What a same-user process did before: write the decision file itself, as the old CLI wrote it.
    (queue / f"{approval_id}.decision").write_text(json.dumps({"id": approval_id, "decision": "approve", "remember": "always", "digest": digest}))
    # ...or write a decision in the new format with a MAC made from a guess.
    assert attempt(icpt, approval_id, digest, wrong(code))["status"] == "rejected"
    assert not held.ended.is_set() and held.released == []
    answer = attempt(icpt, approval_id, digest, code)
    assert answer["status"] == "approved"
    held.wait_end()
    assert held.released == [None] and held.answers == []
    rejected = [f for e, f in held.records if e == "approval" and f["status"] == "code-rejected"]
    assert sorted(r["reason"] for r in rejected) == ["a decision file mcpwrap did not write", "wrong code"]
    assert held.statuses()[-1] == "approved"
    assert [f for e, f in held.records if e == "approval"][-1]["verified"] is True
    assert_code_never_written(tmp_path, held, code)
    assert list(queue.glob("*.json")) == [] and list(queue.glob("*.decision")) == []


def test_wrong_codes_deny_the_call_and_tell_the_person(tmp_path, screen):
    icpt, held = hold(tmp_path, NO_FORMS)
    approval_id, code = wait_for_code(screen)
    digest = digest_of(held)
    answers = [attempt(icpt, approval_id, digest, wrong(code)) for _ in range(MAX_CODE_ATTEMPTS)]
    assert [a["status"] for a in answers] == ["rejected"] * (MAX_CODE_ATTEMPTS - 1) + ["denied"]
    assert [a.get("attempts_left") for a in answers[:-1]] == list(range(MAX_CODE_ATTEMPTS - 1, 0, -1))
    held.wait_end()
    assert held.released == [] and "wrong one-time code" in held.answers[0].reason
    assert any("wrong code" in text and "a program running as you" in text for text in notifications(screen))
    # The right code is too late now: the call is gone.
    with pytest.raises(Exception, match="no pending approval"):
        attempt(icpt, approval_id, digest, code)


def test_a_denial_needs_no_code(tmp_path, screen):
    icpt, held = hold(tmp_path, NO_FORMS)
    approval_id, _ = wait_for_code(screen)
    token = icpt.queue.send_decision(approval_id, "deny")
    assert icpt.queue.wait_answer(approval_id, token, DEADLINE) == {"status": "denied"}
    held.wait_end()
    assert held.released == [] and "did not approve" in held.answers[0].reason


def test_the_code_approves_only_the_call_shown(tmp_path, screen):
    """A decision made with the right code about another call (an entry edited to show something else)."""
    icpt, held = hold(tmp_path, NO_FORMS)
    approval_id, code = wait_for_code(screen)
    other = call_digest("files", {"method": "tools/call", "params": {"name": "write", "arguments": {"path": "/tmp/harmless"}}})
    assert attempt(icpt, approval_id, other, code)["reason"] == "the call it approves is not the call that is held"
    assert attempt(icpt, approval_id, digest_of(held), code, remember="always")["reason"] == "not a valid decision (decision or remember)"
    assert attempt(icpt, approval_id, digest_of(held), code)["status"] == "approved"


def test_a_fast_decline_falls_back_to_the_terminal_instead_of_denying(tmp_path, screen):
    icpt, held = hold(tmp_path, FORMS)
    (method, params, respond) = held.asked[0]
    assert method == "elicitation/create"
    approval_id, code = code_in(params["message"])  # the form carries the terminal's code too
    respond({"jsonrpc": "2.0", "id": "own-1", "result": {"action": "decline"}})  # at once: nobody saw it
    approval_id2, code2 = wait_for_code(screen)
    assert (approval_id2, code2) == (approval_id, code)
    assert not held.ended.is_set()
    failed = [f for e, f in held.records if e == "approval" and f["status"] == "channel-failed"]
    assert failed[0]["channel"] == "elicitation" and "faster than a person" in failed[0]["reason"]
    assert attempt(icpt, approval_id, digest_of(held), code)["status"] == "approved"
    held.wait_end()
    assert held.released == [None] and "denied" not in held.statuses()


def test_a_decline_a_person_had_time_to_read_is_a_denial(tmp_path, screen, monkeypatch):
    monkeypatch.setattr(wait_module, "FAST_ANSWER_SECONDS", 0.0)
    icpt, held = hold(tmp_path, FORMS)
    held.asked[0][2]({"jsonrpc": "2.0", "id": "own-1", "result": {"action": "decline"}})
    held.wait_end()
    assert held.statuses()[-1] == "denied" and held.released == []
    assert notifications(screen) == []  # the form reached the person: no code by notification


def test_a_form_nobody_saw_and_no_notification_is_unreached_not_a_denial(tmp_path, monkeypatch):
    for name, value in fake_notifier(tmp_path / "no-daemon", works=False).items():
        monkeypatch.setenv(name, value)
    icpt, held = hold(tmp_path, FORMS)
    held.asked[0][2]({"jsonrpc": "2.0", "id": "own-1", "result": {"action": "cancel"}})
    held.wait_end()
    assert held.statuses()[-1] == "unreached" and "denied" not in held.statuses()
    reason = held.answers[0].reason
    assert "no approval channel reached a person" in reason and "nobody saw it" in reason
    assert "notification service failed (org.freedesktop.DBus.Error.ServiceUnknown" in reason and "policy rule" in reason


def test_without_forms_and_notifications_the_terminal_cannot_be_used(tmp_path, monkeypatch):
    for name, value in fake_notifier(tmp_path / "no-daemon", works=False).items():
        monkeypatch.setenv(name, value)
    icpt, held = hold(tmp_path, NO_FORMS)
    held.wait_end()
    assert held.statuses()[-1] == "unreached"
    assert "no channel could show the one-time code" in held.answers[0].reason
    assert list((tmp_path / "queue").glob("*.json")) == []  # withdrawn: nobody could approve it


def test_headless_without_a_session_bus_the_terminal_cannot_be_used(tmp_path, monkeypatch):
    """No session bus at all (an SSH session, a server): the same fallback as a bus without a notification
    service — the call is unreached, with the reason, and its queue entry withdrawn."""
    for name, value in no_session_bus(tmp_path).items():
        monkeypatch.setenv(name, value)
    icpt, held = hold(tmp_path, NO_FORMS)
    held.wait_end()
    assert held.statuses()[-1] == "unreached" and "denied" not in held.statuses()
    reason = held.answers[0].reason
    assert "no channel could show the one-time code" in reason and "no session bus for desktop notifications" in reason
    assert list((tmp_path / "queue").glob("*.json")) == []


def test_notifications_can_be_turned_off(tmp_path, screen):
    settings = ApprovalSettings()
    settings.desktop_notification = False
    icpt, held = hold(tmp_path, NO_FORMS, settings=settings)
    held.wait_end()
    assert "approval.desktop_notification: false" in held.answers[0].reason and notifications(screen) == []


def test_a_client_known_to_drop_forms_also_gets_a_notification_at_once(tmp_path, screen):
    icpt, held = hold(tmp_path, CLAUDE_CODE)
    assert held.asked and held.asked[0][0] == "elicitation/create"
    approval_id, code = wait_for_code(screen)  # without any answer to the form
    requested = [f for e, f in held.records if e == "approval" and f["status"] == "requested"][0]
    assert requested["form"] == "unreliable"
    assert attempt(icpt, approval_id, digest_of(held), code)["status"] == "approved"
    held.wait_end()
    assert held.withdrawn == ["own-1"]  # the form, still open, is withdrawn


def test_a_call_too_long_for_the_form_is_approved_in_the_terminal(tmp_path, screen):
    args = {"path": "/tmp/x", "text": "a" * FORM_MAX_CHARS + "; rm -rf ~"}
    icpt, held = hold(tmp_path, FORMS, args=args)
    (_, params, respond) = held.asked[0]
    assert params["requestedSchema"]["properties"]["decision"]["enum"] == ["deny", TERMINAL_CHOICE]
    approval_id, code = code_in(params["message"])
    respond({"jsonrpc": "2.0", "id": "own-1", "result": {"action": "accept", "content": {"decision": TERMINAL_CHOICE}}})
    deadline = time.monotonic() + DEADLINE
    while "form-closed" not in held.statuses():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    entry = ApprovalQueue(tmp_path / "queue").get(approval_id)
    assert entry["call"]["params"]["arguments"] == args  # the terminal shows the whole call
    assert attempt(icpt, approval_id, digest_of(held), code)["status"] == "approved"
    held.wait_end()
    assert held.released == [None]


def test_an_approve_the_long_form_did_not_offer_is_not_an_approval(tmp_path, screen):
    icpt, held = hold(tmp_path, FORMS, args={"text": "a" * (FORM_MAX_CHARS + 1)})
    held.asked[0][2]({"jsonrpc": "2.0", "id": "own-1", "result": {"action": "accept", "content": {"decision": "approve"}}})
    held.wait_end()
    assert held.released == [] and held.statuses()[-1] == "denied"
