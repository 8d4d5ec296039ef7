from __future__ import annotations

import os
import signal
import socket

from mcpwrap._sandbox import _linux, landlock
from mcpwrap._sandbox.landlock import READ, WRITE, Ruleset

from .conftest import need_abi
from .forked import in_child


def restricted(setup, then):
    """In a child: build a ruleset with ``setup(ruleset)``, restrict, and return ``then()``."""

    def body():
        rs = Ruleset.create(landlock.fs_rights(landlock.abi_version()), landlock.NET_BIND_TCP | landlock.NET_CONNECT_TCP, landlock.SCOPE_SIGNAL)
        setup(rs)
        _linux.prctl(_linux.PR_SET_NO_NEW_PRIVS, 1)
        rs.restrict()
        return then()

    return in_child(body)


def test_abi_is_detected():
    need_abi(1)
    assert landlock.abi_version() >= 1
    assert landlock.fs_rights(1) == (1 << 13) - 1
    assert landlock.fs_rights(5) & landlock.FS.IOCTL_DEV


def test_files_outside_the_rules_are_refused(tmp_path):
    need_abi(1)
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "f").write_text("visible")
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "secret").write_text("secret")

    def read(p):
        return lambda: open(p).read()

    assert restricted(lambda rs: rs.allow_path(str(tmp_path / "open"), READ), read(tmp_path / "open" / "f")) == "visible"
    result = restricted(lambda rs: rs.allow_path(str(tmp_path / "open"), READ), read(tmp_path / "closed" / "secret"))
    assert isinstance(result, OSError) and result.errno == 13


def test_read_rules_do_not_allow_writing(tmp_path):
    need_abi(1)
    (tmp_path / "f").write_text("x")
    result = restricted(lambda rs: rs.allow_path(str(tmp_path), READ), lambda: open(tmp_path / "f", "a").write("y"))
    assert isinstance(result, OSError) and result.errno == 13
    ok = restricted(lambda rs: rs.allow_path(str(tmp_path), WRITE), lambda: open(tmp_path / "f", "a").write("y"))
    assert ok == 1


def test_a_rule_on_a_symlink_is_not_a_rule_on_its_target(tmp_path):
    need_abi(1)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "k").write_text("k")
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    result = restricted(lambda rs: rs.allow_path(str(tmp_path / "link"), READ, follow=False), lambda: open(tmp_path / "link" / "k").read())
    assert isinstance(result, OSError) and result.errno == 13


def test_the_parents_pipes_are_out_of_reach_through_proc():
    need_abi(1)
    parent = os.getpid()
    r, w = os.pipe()
    try:
        for fd, mode in ((w, os.O_WRONLY), (r, os.O_RDONLY)):
            result = restricted(lambda rs: rs.allow_path("/", READ), lambda fd=fd, mode=mode: os.open(f"/proc/{parent}/fd/{fd}", mode))
            assert isinstance(result, OSError) and result.errno == 13
    finally:
        os.close(r)
        os.close(w)


def test_tcp_connect_is_refused_without_a_port_rule():
    need_abi(4)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        def connect():
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return "connected"

        result = restricted(lambda rs: rs.allow_path("/", READ), connect)
        assert isinstance(result, OSError) and result.errno == 13
        assert restricted(lambda rs: (rs.allow_path("/", READ), rs.allow_port(port, landlock.NET_CONNECT_TCP)), connect) == "connected"
    finally:
        listener.close()


def test_signals_to_processes_outside_the_domain_are_refused():
    need_abi(6)
    parent = os.getpid()
    result = restricted(lambda rs: rs.allow_path("/", READ), lambda: os.kill(parent, 0))
    assert isinstance(result, OSError) and result.errno == 1
    # within the domain: a child of the sandboxed process may be signalled
    def own_child():
        pid = os.fork()
        if pid == 0:
            signal.pause()
            os._exit(0)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "signalled"

    assert restricted(lambda rs: rs.allow_path("/", READ), own_child) == "signalled"
