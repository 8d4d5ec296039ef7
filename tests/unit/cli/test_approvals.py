"""`mcpwrap approvals / approve / deny` against a queue filled directly, a stand-in for the waiting wrapper, and a
scripted terminal (the desktop notification: tests/unit/interceptors/test_approval_notify.py)."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from typer.testing import CliRunner

from mcpwrap._cli import approvals as cli_approvals
from mcpwrap._cli.app import app
from mcpwrap._state.approvals import ApprovalQueue, call_digest, format_code, new_code, verify_mac

runner = CliRunner()
CALL = {"method": "tools/call", "params": {"name": "write_file", "arguments": {"path": "/tmp/x"}}}


def submit(call: dict = CALL, **kw) -> str:
    now = time.time()
    entry = {"created_ts": now, "expires_ts": now + 60, "server": "files", "tool": "write_file", "call": call, "digest": call_digest("files", call),
             "rule": "confirm-writes", "reason": "writes files", "on_timeout": "deny", "remember": ["once", "session"], **kw}
    return ApprovalQueue().submit(entry)


class Wrapper(threading.Thread):
    """The waiting mcpwrap process's side of the queue: verifies attempts with the code it keeps, answers them."""

    def __init__(self, approval_id: str, call: dict = CALL) -> None:
        super().__init__(daemon=True)
        self.id, self.code, self.digest = approval_id, new_code(), call_digest("files", call)
        self.queue = ApprovalQueue()
        self.decided: dict | None = None
        self.stop = threading.Event()
        self.attempts = 0
        self.start()

    def run(self) -> None:
        while not self.stop.is_set() and self.decided is None:
            for token, record in self.queue.take_decisions(self.id):
                if record and record.get("decision") == "deny":
                    self.decided = record
                    self.queue.answer(self.id, token, {"status": "denied"})
                elif record and record.get("digest") == self.digest and verify_mac(self.code, self.id, self.digest, record):
                    self.decided = record
                    self.queue.answer(self.id, token, {"status": "approved"})
                else:
                    self.attempts += 1
                    self.queue.answer(self.id, token, {"status": "rejected", "reason": "wrong code", "attempts_left": 3 - self.attempts})
            time.sleep(0.01)


class Terminal:
    """A person at a terminal: what was shown, and the lines they type (None = end of input)."""

    def __init__(self, typed: list, size=(100, 40)) -> None:
        self.typed = list(typed)
        self.shown = ""
        self.secret_prompts = 0
        self._size = size

    def __call__(self):  # stands in for the _Terminal class
        return self

    def write(self, text: str) -> None:
        self.shown += text

    def size(self):
        return self._size

    def read_line(self, prompt: str, *, secret: bool = False):
        self.shown += prompt
        self.secret_prompts += secret
        return self.typed.pop(0) if self.typed else None

    def close(self) -> None:
        pass

    page = cli_approvals._Terminal.page


@pytest.fixture
def terminal(monkeypatch):
    def install(typed: list, **kw) -> Terminal:
        t = Terminal(typed, **kw)
        monkeypatch.setattr(cli_approvals, "_Terminal", t)
        return t

    return install


def test_approvals_lists_every_pending_call(mcpwrap_home):
    first = submit()
    second = submit(server="git", tool="git_push", call={"method": "tools/call", "params": {"name": "git_push", "arguments": {"force": True}}})
    result = runner.invoke(app, ["approvals"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Pending approvals (2)" in result.output
    for text in (first, second, "files", "git_push", "force: true", "confirm-writes", "then deny", "mcpwrap approve ID"):
        assert text in result.output
    listed = json.loads(runner.invoke(app, ["approvals", "--json"]).output)
    assert [e["id"] for e in listed] == [first, second]


def test_the_listing_says_when_it_shortens_arguments(mcpwrap_home):
    approval_id = submit(call={"method": "tools/call", "params": {"name": "w", "arguments": {"text": "y" * 1000}}})
    result = runner.invoke(app, ["approvals"], env={"COLUMNS": "400"})
    assert "more" in result.output and f"`mcpwrap approve {approval_id}` shows all)" in result.output


def test_approvals_when_nothing_waits(mcpwrap_home):
    result = runner.invoke(app, ["approvals"])
    assert result.exit_code == 0 and "No calls are waiting for approval." in result.output
    assert not (mcpwrap_home / "approvals").exists()  # listing creates nothing


def test_approve_needs_a_terminal(mcpwrap_home, monkeypatch):
    approval_id = submit()

    def no_tty():
        raise OSError(6, "No such device or address", "/dev/tty")

    monkeypatch.setattr(cli_approvals, "_Terminal", no_tty)
    result = runner.invoke(app, ["approve", approval_id])
    assert result.exit_code == 1 and "must be run by a person at a terminal" in result.output
    assert ApprovalQueue().take_decisions(approval_id) == []


def test_approve_has_no_option_that_skips_the_person(mcpwrap_home):
    result = runner.invoke(app, ["approve", submit(), "--yes"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_approve_shows_the_whole_call_and_takes_the_code_from_the_terminal(mcpwrap_home, terminal):
    call = {"method": "tools/call", "params": {"name": "write_file", "arguments": {"path": "/tmp/x", "text": "z" * 5000 + " the end\u202e"}}}
    approval_id = submit(call=call)
    wrapper = Wrapper(approval_id, call)
    tty = terminal([format_code(wrapper.code).lower()], size=(10_000, 100))
    result = runner.invoke(app, ["approve", approval_id, "--remember", "session"], input="7KQ2-M9XD\n")  # stdin is never read
    wrapper.stop.set()
    assert result.exit_code == 0, result.output + tty.shown
    assert f"approved {approval_id} (remember: session)" in result.output
    assert wrapper.decided["remember"] == "session" and tty.secret_prompts == 1
    assert "z" * 5000 + " the end\\u202e" in tty.shown and "\u202e" not in tty.shown  # whole, made visible
    assert "Call digest: sha256:" in tty.shown and call_digest("files", call)[:23] in tty.shown
    assert wrapper.code not in tty.shown and wrapper.code not in result.output


def test_a_wrong_code_can_be_retyped(mcpwrap_home, terminal):
    approval_id = submit()
    wrapper = Wrapper(approval_id)
    tty = terminal(["12-34", "AAAA-AAAA" if wrapper.code != "AAAAAAAA" else "BBBB-BBBB", wrapper.code], size=(200, 100))
    result = runner.invoke(app, ["approve", approval_id])
    wrapper.stop.set()
    assert result.exit_code == 0, result.output + tty.shown
    assert "That is not a code" in tty.shown and "Not accepted: wrong code. 2 of 3 attempts left." in tty.shown
    assert wrapper.attempts == 1


def test_approve_cancelled_with_an_empty_line(mcpwrap_home, terminal):
    approval_id = submit()
    terminal([""])
    result = runner.invoke(app, ["approve", approval_id])
    assert result.exit_code == 1 and "not approved (nothing changed)" in result.output
    assert ApprovalQueue().take_decisions(approval_id) == []


def test_a_long_call_is_paged(mcpwrap_home, terminal):
    arguments = {f"k{i:03d}": i for i in range(60)}
    approval_id = submit(call={"method": "tools/call", "params": {"name": "w", "arguments": arguments}})
    tty = terminal([""] * 12, size=(80, 12))  # Enter through the pages, then an empty code: cancel
    runner.invoke(app, ["approve", approval_id])
    assert "more lines: Enter shows the next page" in tty.shown
    assert all(f"k{i:03d}: {i}" in tty.shown for i in range(60))


def test_approve_rejects_an_unknown_or_unoffered_remember_choice(mcpwrap_home):
    result = runner.invoke(app, ["approve", submit(), "--remember", "forever"])
    assert result.exit_code == 2 and "--remember must be one of once, session, always" in result.output
    result = runner.invoke(app, ["approve", submit(), "--remember", "always"])
    assert result.exit_code == 1 and "not offered for this call" in result.output


def test_deny_needs_no_code(mcpwrap_home):
    approval_id = submit()
    wrapper = Wrapper(approval_id)
    result = runner.invoke(app, ["deny", approval_id])
    wrapper.stop.set()
    assert result.exit_code == 0 and f"denied {approval_id} (files: write_file)" in result.output
    assert wrapper.decided["decision"] == "deny"


def test_deny_says_when_nobody_took_it(mcpwrap_home, monkeypatch):
    monkeypatch.setattr(cli_approvals, "ANSWER_WAIT", 0.2)
    result = runner.invoke(app, ["deny", submit()])
    assert result.exit_code == 1 and "did not take the denial" in result.output


def test_deny_unknown_id(mcpwrap_home):
    submit()
    result = runner.invoke(app, ["deny", "0000abcd"])
    assert result.exit_code == 1 and "no pending approval '0000abcd'" in result.output


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_listing_refuses_a_shared_queue(mcpwrap_home):
    submit()
    os.chmod(mcpwrap_home / "approvals", 0o777)
    result = runner.invoke(app, ["approvals"])
    assert result.exit_code == 1 and "accessible to other users" in result.output


def test_listing_shows_markup_in_arguments_literally(mcpwrap_home):
    submit(call={"method": "tools/call", "params": {"name": "read", "arguments": {"path": "[white on white]/etc/shadow[/]"}}})
    result = runner.invoke(app, ["approvals"], env={"COLUMNS": "200"})
    assert "[white on white]/etc/shadow[/]" in result.output


def test_approvals_watch_prints_each_change_when_piped(mcpwrap_home):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpwrap", "approvals", "--watch"], stdout=subprocess.PIPE, text=True, env={**os.environ, "MCPWRAP_HOME": str(mcpwrap_home)}
    )
    try:
        seen: list[str] = []

        def read_until(text: str, deadline: float) -> None:
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                assert line, "approvals --watch ended"
                seen.append(line)
                if text in line:
                    return
            raise AssertionError(f"{text!r} not printed; got {seen!r}")

        read_until("No calls are waiting for approval.", time.monotonic() + 60)
        approval_id = submit(server="piped", tool="write_file")
        read_until(approval_id, time.monotonic() + 60)
        assert any("Pending approvals (1)" in line for line in seen)
        assert not any("\x1b[" in line for line in seen)  # plain text: no escape codes in a pipe
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
