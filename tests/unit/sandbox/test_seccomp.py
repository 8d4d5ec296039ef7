from __future__ import annotations

import socket

import pytest

from mcpwrap._sandbox import _linux, seccomp

from .forked import in_child


def filtered(program, then):
    def body():
        _linux.prctl(_linux.PR_SET_NO_NEW_PRIVS, 1)
        seccomp.install(program)
        return then()

    return in_child(body)


@pytest.fixture(autouse=True)
def _arch():
    if not seccomp.available():
        pytest.skip(f"no syscall table for {_linux.MACHINE}")


def test_unix_sockets_cannot_be_created_but_socket_pairs_and_inet_can(tmp_path):
    server = socket.socket(socket.AF_UNIX)
    path = str(tmp_path / "agent.sock")
    server.bind(path)
    server.listen(1)
    try:
        def connect():
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
            return "connected"

        result = filtered(seccomp.build_filter(), connect)
        assert isinstance(result, OSError) and result.errno == 13
        assert filtered(seccomp.build_filter(deny_unix_sockets=False), connect) == "connected"
    finally:
        server.close()

    def others():
        a, b = socket.socketpair()
        a.close(), b.close()
        socket.socket(socket.AF_INET).close()
        return "ok"

    assert filtered(seccomp.build_filter(), others) == "ok"


def test_keyrings_and_io_uring_are_refused():
    import ctypes

    nrs = _linux.SYSCALLS[_linux.MACHINE]

    def calls():
        libc = ctypes.CDLL(None, use_errno=True)
        out = []
        for nr in (nrs["keyctl"], nrs["io_uring_setup"]):
            libc.syscall(nr, 0, 0, 0, 0)
            out.append(ctypes.get_errno())
        return out

    assert filtered(seccomp.build_filter(), calls) == [13, 38]  # EACCES; ENOSYS so that callers fall back
