"""``mcpwrap approvals`` / ``approve`` / ``deny``: decide held calls from a terminal.

``approve`` is how a person approves a call in a terminal, and only a person can: it shows the whole call (paged
when long) on the terminal, then reads the call's **one-time code** from ``/dev/tty`` — never from standard
input, an argument or the environment — and writes a decision carrying a MAC keyed by that code
(:mod:`mcpwrap._state.approvals`). The code is shown only where a person looks (the client's approval form, a
desktop notification), so a process of the same user without it — a model's shell tool, with or without a
pseudo-terminal — cannot approve: its decision is rejected, and three wrong codes deny the call. The command
waits for the wrapper's answer and says whether the approval was accepted.

``deny`` needs no code and no terminal: refusing is always safe.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from typing import Any

import typer

from .._state.approvals import (
    MAX_CODE_ATTEMPTS,
    REMEMBER_CHOICES,
    ApprovalError,
    ApprovalQueue,
    call_digest,
    decision_mac,
    normalize_code,
)
from ..interceptors.approval.form import call_lines, printable, remember_help, render, short_digest
from .common import fail
from .output import Grid, Output

__all__ = ["register"]

WATCH_REFRESH = 1.0  # seconds between refreshes of `approvals --watch`
ANSWER_WAIT = 10.0  # seconds `approve`/`deny` wait for the wrapper to take their decision (it looks 5 times a second)
LIST_ARGUMENT_CHARS = 300  # of a call's arguments in the `approvals` table (`approve` shows them all)
_DEFAULT_SIZE = (80, 24)  # columns, lines of a terminal that does not say
MAX_TYPING_ERRORS = 5  # mistyped codes (not a code at all) before `approve` gives up; these are not attempts


def _queue() -> ApprovalQueue:
    from .._config import load_section
    from .._paths import resolve_policy_path
    from ..interceptors.approval import APPROVAL_SECTION

    try:
        settings = load_section(resolve_policy_path(None), APPROVAL_SECTION)
        return ApprovalQueue(settings.queue)
    except Exception:  # an unreadable policy must not hide pending calls: fall back to the default queue
        return ApprovalQueue()


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _call_cell(entry: dict) -> str:
    """The tool (or request) of an entry, from the call itself: the entry's other fields are only labels."""
    call = entry.get("call")
    return call_lines(call)[0].partition(": ")[2] if isinstance(call, dict) else printable(str(entry.get("tool")))


def _arguments_cell(entry: dict) -> str:
    call = entry.get("call")
    if not isinstance(call, dict) or not isinstance(call.get("params"), dict):
        return ""
    shown = "\n".join(call_lines(call, indent="")[1:]).removeprefix("Arguments:\n")
    if len(shown) > LIST_ARGUMENT_CHARS:
        shown = shown[:LIST_ARGUMENT_CHARS] + f"… ({len(shown) - LIST_ARGUMENT_CHARS} more characters: `mcpwrap approve {entry.get('id')}` shows all)"
    return shown


def _grid(entries: list[dict]) -> Grid:
    # Cells are plain text, never markup: arguments come from the model, and "[white on white]" must not hide anything.
    grid = Grid(["ID", "server", "call", "arguments", "rule", "waiting", "left"], title=f"Pending approvals ({len(entries)})")
    now = time.time()
    for e in entries:
        grid.add_row(
            str(e.get("id", "?")),
            printable(str(e.get("server"))),
            _call_cell(e),
            _arguments_cell(e),
            printable(str(e.get("rule"))) + (f"\n{printable(str(e['reason']))}" if e.get("reason") else ""),
            _age(now - _num(e.get("created_ts"), now)),
            _age(_num(e.get("expires_ts"), now) - now) + f" then {printable(str(e.get('on_timeout', 'deny')))}",
        )
    return grid


_NOTHING = "No calls are waiting for approval."
_HINT = "Decide with: mcpwrap approve ID [--remember once|session|always]  |  mcpwrap deny ID"


def _renderable(entries: list[dict]):
    from rich.console import Group
    from rich.text import Text

    if not entries:
        return Text(_NOTHING)
    return Group(_grid(entries).rich(expand=False), Text(_HINT, style="dim"))


def _plain(entries: list[dict]) -> list[str]:
    return [*_grid(entries).plain(), _HINT] if entries else [_NOTHING]


# --- the person's terminal -----------------------------------------------------------------------------------------


class _Terminal:
    """The controlling terminal (``/dev/tty``): where the call is shown and the code is typed, whatever standard
    input and output are. A process without one (a script, a tool run by a model) cannot approve."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))

    def close(self) -> None:
        os.close(self.fd)

    def write(self, text: str) -> None:
        data = text.encode("utf-8", "backslashreplace")
        while data:
            data = data[os.write(self.fd, data) :]

    def size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.fd)
        except OSError:
            return _DEFAULT_SIZE
        if not size.columns or not size.lines:  # a terminal that does not know its size (0 x 0)
            return _DEFAULT_SIZE
        return max(size.columns, 20), max(size.lines, 5)

    def read_line(self, prompt: str, *, secret: bool = False) -> str | None:
        """A line typed at the terminal (None at end of input); with ``secret`` the typing is not echoed, so
        the code never appears on a screen another program could capture."""
        import termios

        saved = None
        if secret:  # echo off (and type-ahead discarded) before the prompt: what is typed after it is read
            try:
                saved = termios.tcgetattr(self.fd)
                quiet = list(saved)
                quiet[3] &= ~termios.ECHO
                termios.tcsetattr(self.fd, termios.TCSAFLUSH, quiet)
            except termios.error:
                saved = None
        self.write(prompt)
        try:
            line = b""
            while not line.endswith(b"\n") and len(line) < 1024:
                chunk = os.read(self.fd, 1024)
                if not chunk:
                    return None if not line else line.decode("utf-8", "replace")
                line += chunk
            return line.decode("utf-8", "replace").rstrip("\r\n")
        finally:
            if saved is not None:
                termios.tcsetattr(self.fd, termios.TCSAFLUSH, saved)
                self.write("\n")

    def page(self, text: str) -> None:
        """Show ``text`` whole; a screenful at a time when it is taller than the terminal."""
        columns, rows = self.size()
        lines: list[str] = []
        for line in text.split("\n"):
            lines += textwrap.wrap(line, columns, replace_whitespace=False, drop_whitespace=False, break_on_hyphens=False) or [""]
        per_page = rows - 2
        if len(lines) <= per_page:
            self.write("\n".join(lines) + "\n")
            return
        for start in range(0, len(lines), per_page):
            self.write("\n".join(lines[start : start + per_page]) + "\n")
            left = len(lines) - start - per_page
            if left <= 0:
                break
            answer = self.read_line(f"-- {left} more lines: Enter shows the next page, q stops showing --")
            if answer is None or answer.strip().lower() == "q":
                self.write(f"({left} lines of this call were not shown)\n")
                break


def _describe(entry: dict, call: dict, digest: str, remember: str) -> str:
    now = time.time()
    rule = printable(str(entry.get("rule")))
    reason = f" — {printable(str(entry['reason']))}" if entry.get("reason") else ""
    client = f"    client: {printable(str(entry['client']))}" if entry.get("client") else ""
    lines = [
        f"mcpwrap: a call waits for your approval (ID {entry.get('id')})",
        f"  server: {printable(str(entry.get('server')))}{client}",
        f"  rule:   {rule}{reason}",
        f"  waited {_age(now - _num(entry.get('created_ts'), now))}; {_age(_num(entry.get('expires_ts'), now) - now)} left, then "
        f"{printable(str(entry.get('on_timeout', 'deny')))}",
        "",
    ]
    for line in call_lines(call):
        key, sep, value = line.partition(": ")
        if sep and line.startswith("  ") and value[:1] in "{[":  # an argument holding an object or array: indented
            try:
                value = render(json.loads(value), indent=2).replace("\n", "\n    ")
            except ValueError:
                pass
            line = f"{key}: {value}"
        lines.append(line)
    lines += [
        "",
        f"Call digest: {short_digest(digest)}   (the same as in the approval form or notification)",
        f"Remember: {remember} — {remember_help(remember)}",
    ]
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("approvals", help="List calls waiting for a person's approval, from every wrapped server.")
    def approvals(
        watch: bool = typer.Option(
            False, "--watch", "-w", help="keep watching: on a terminal the list is redrawn every second; elsewhere it is printed again whenever it changes"
        ),
        as_json: bool = typer.Option(False, "--json", help="print the pending approvals as JSON"),
    ) -> None:
        queue = _queue()
        out = Output()
        try:
            if as_json:
                typer.echo(json.dumps(queue.pending(), indent=1, ensure_ascii=False))
                return
            entries = queue.pending()
            if not watch:
                out.rich(_renderable(entries), _plain(entries))
                return
            if not out.terminal:
                # a pipe or a log: a new listing (with its time) each time the set of waiting calls changes
                shown = None
                while True:
                    ids = [e.get("id") for e in entries]
                    if ids != shown:
                        out.lines([time.strftime("%Y-%m-%d %H:%M:%S"), *_plain(entries), ""])
                        shown = ids
                    time.sleep(WATCH_REFRESH)
                    entries = queue.pending()
            from rich.live import Live

            with Live(_renderable(entries), console=out.console, refresh_per_second=4, transient=False) as live:
                while True:
                    time.sleep(WATCH_REFRESH)
                    live.update(_renderable(queue.pending()))
        except ApprovalError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            raise typer.Exit(0) from None

    @app.command(
        "approve",
        help="Approve a held call (see `mcpwrap approvals`): shows the whole call, then asks at the terminal for the "
        "one-time code shown in the approval form or desktop notification.",
    )
    def approve(
        approval_id: str = typer.Argument(..., metavar="ID", help="the id shown by `mcpwrap approvals`"),
        remember: str = typer.Option(
            "once",
            "--remember",
            "-r",
            metavar="CHOICE",
            help="once | session (this exact call again, until the client disconnects) | "
            "always (this exact call from now on, written to policy.overrides.yaml)",
        ),
    ) -> None:
        if remember not in REMEMBER_CHOICES:
            fail(f"--remember must be one of {', '.join(REMEMBER_CHOICES)}", 2)
        queue = _queue()
        try:
            entry = queue.get(approval_id)
        except ApprovalError as exc:
            fail(str(exc))
        call, server = entry.get("call"), entry.get("server")
        if not isinstance(call, dict) or not isinstance(server, str):
            fail(f"approval {approval_id} does not hold a call this version of mcpwrap can show; it cannot be approved here")
        raw_offered = entry.get("remember")
        offered: list = raw_offered if isinstance(raw_offered, list) else ["once"]
        if remember not in offered:
            fail(f"--remember {remember} is not offered for this call (choices: {', '.join(map(str, offered))})")
        digest = call_digest(server, call)  # of the call shown here: a decision applies to what the person saw
        try:
            tty = _Terminal()
        except OSError:
            fail(
                "approve must be run by a person at a terminal: it reads the approval's one-time code from the terminal "
                "(/dev/tty), and this process has none; a call cannot be approved from a script or a tool"
            )
        try:
            tty.page(_describe(entry, call, digest, remember))
            _ask_code(tty, queue, approval_id, digest, remember)
        except KeyboardInterrupt:
            tty.write("\n")
            fail("not approved (interrupted; nothing changed)")
        finally:
            tty.close()
        typer.echo(f"approved {approval_id}" + (f" (remember: {remember})" if remember != "once" else ""))

    @app.command("deny", help="Deny a held call (see `mcpwrap approvals`); the client gets the block answer. Needs no code.")
    def deny(approval_id: str = typer.Argument(..., metavar="ID", help="the id shown by `mcpwrap approvals`")) -> None:
        queue = _queue()
        try:
            entry = queue.get(approval_id)
            token = queue.send_decision(approval_id, "deny")
        except ApprovalError as exc:
            fail(str(exc))
        outcome = queue.wait_answer(approval_id, token, ANSWER_WAIT)
        if outcome is None:
            fail(f"the mcpwrap process holding {approval_id} did not take the denial within {ANSWER_WAIT:g} s (its server may have ended)")
        typer.echo(f"denied {approval_id} ({printable(str(entry.get('server')))}: {entry.get('tool')})")


def _ask_code(tty: _Terminal, queue: ApprovalQueue, approval_id: str, digest: str, remember: str) -> None:
    """Ask for the code until the wrapper accepts it; fail() when it does not (wrong codes, no answer)."""
    typing_errors = 0
    while True:
        typed = tty.read_line(
            "Type the one-time code shown with this approval (in the approval form or the desktop notification), "
            "or press Enter to cancel: ",
            secret=True,
        )
        if typed is None or not typed.strip():
            fail("not approved (nothing changed)")
        code = normalize_code(typed)
        if code is None:
            typing_errors += 1
            if typing_errors >= MAX_TYPING_ERRORS:
                fail("not approved: no code was typed")
            tty.write("That is not a code: it has 8 characters (digits and letters, shown as XXXX-XXXX). Try again.\n")
            continue
        try:
            token = queue.send_decision(
                approval_id, "approve", remember=remember, digest=digest, mac=decision_mac(code, approval_id, digest, "approve", remember)
            )
        except ApprovalError as exc:
            fail(str(exc))
        outcome = queue.wait_answer(approval_id, token, ANSWER_WAIT)
        status = outcome.get("status") if outcome is not None else None
        if status == "approved":
            return
        if outcome is None:
            fail(f"the mcpwrap process holding {approval_id} did not answer within {ANSWER_WAIT:g} s (its server may have ended); not approved")
        reason = printable(str(outcome.get("reason") or status))
        if status == "rejected":
            left = outcome.get("attempts_left")
            tty.write(f"Not accepted: {reason}. {left if isinstance(left, int) else '?'} of {MAX_CODE_ATTEMPTS} attempts left.\n")
            continue
        fail(f"not approved: {reason}")
