"""The writer of one pipe: order, no loss across partial writes and many buffers, and a closed reader."""

from __future__ import annotations

import os
import threading

from mcpwrap._relay.io import IOV_MAX, PipeWriter


def read_all(fd: int) -> bytes:
    data = bytearray()
    while chunk := os.read(fd, 1 << 16):
        data += chunk
    return bytes(data)


def test_chunks_arrive_whole_and_in_order_past_the_pipe_capacity_and_iov_max():
    r, w = os.pipe()
    writer = PipeWriter(w, "client")
    chunks = [bytes([65 + i % 26]) * (i % 7) for i in range(IOV_MAX * 3)] + [b"x" * (1 << 20), b"\n"]
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(read_all(r)))
    reader.start()
    assert writer.write(*chunks) is True  # more than the pipe holds: writev returns partial counts
    writer.close()
    reader.join()
    os.close(r)
    assert got == [b"".join(chunks)]


def test_writes_of_several_threads_never_interleave():
    r, w = os.pipe()
    writer = PipeWriter(w, "client")
    lines = {n: [b"%d:" % n, b"y" * 100_000, b"\n"] for n in range(8)}
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(read_all(r)))
    reader.start()
    writers = [threading.Thread(target=writer.write, args=tuple(parts)) for parts in lines.values()]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    writer.close()
    reader.join()
    os.close(r)
    received = got[0].splitlines(keepends=True)
    assert sorted(received) == sorted(b"".join(parts) for parts in lines.values())


def test_a_gone_reader_or_a_closed_pipe_reports_false():
    r, w = os.pipe()
    writer = PipeWriter(w, "server")
    os.close(r)  # the reader exits (SIGPIPE is ignored by mcpwrap, as by the test runner: EPIPE)
    assert writer.write(b"lost\n") is False and writer.closed
    writer.close()
    r2, w2 = os.pipe()
    closed = PipeWriter(w2, "server")
    closed.close()
    closed.close()  # twice is harmless
    assert closed.write(b"late\n") is False
    assert read_all(r2) == b""
    os.close(r2)
