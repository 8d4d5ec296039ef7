"""Diagnostics: one line per message on the current stderr, plain unless stderr is a terminal, never raising."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from mcpwrap import _log


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_warning_is_one_plain_line_on_stderr(capsys):
    _log.warning("audit log %s is writable again", "a.jsonl")
    _log.error("100% sure: a literal percent sign")
    assert capsys.readouterr().err == "mcpwrap: audit log a.jsonl is writable again\nmcpwrap: 100% sure: a literal percent sign\n"


def test_lines_follow_stderr_where_it_is_now(monkeypatch):
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    _log.warning("one")
    monkeypatch.setattr(sys, "stderr", second)
    _log.warning("two")
    assert (first.getvalue(), second.getvalue()) == ("mcpwrap: one\n", "mcpwrap: two\n")


def test_a_terminal_gets_highlighted_lines_unless_no_color(monkeypatch):
    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    _log.error("refusing traffic")
    assert tty.getvalue().startswith("\x1b[") and "mcpwrap: refusing traffic" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    tty.seek(0)
    tty.truncate()
    _log.error("refusing traffic")
    assert tty.getvalue() == "mcpwrap: refusing traffic\n"


def test_a_closed_stderr_loses_the_message_not_the_caller(monkeypatch):
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    _log.warning("nobody hears this")  # must not raise


def test_configuring_twice_keeps_one_handler_and_nothing_reaches_the_root(capsys):
    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.seen.append(record.getMessage())

    root = Collect()  # what an embedding program's own logging set-up would print a second time
    logging.getLogger().addHandler(root)
    try:
        _log.configure()
        logger = _log.configure(logging.WARNING)
        assert sum(1 for h in logger.handlers if getattr(h, "_mcpwrap", False)) == 1
        _log.info("quiet at WARNING")
        _log.warning("said once")
    finally:
        logging.getLogger().removeHandler(root)
    assert capsys.readouterr().err == "mcpwrap: said once\n"
    assert root.seen == []


@pytest.fixture(autouse=True)
def _restore_level():
    yield
    _log.configure()  # INFO again for the other tests
