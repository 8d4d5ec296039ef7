from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpwrap._relay.framing import OVERSIZE_TAIL, LineReader


def frames_of(chunks: list[bytes], max_bytes: int = 1 << 20) -> list:
    reader = LineReader(-1, max_bytes)
    out = []
    for chunk in chunks:
        out.extend(reader.feed(chunk))
    last = reader._finish()
    if last is not None:
        out.append(last)
    return out


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, prev = [], 0
    for p in points:
        pieces.append(data[prev:p])
        prev = p
    pieces.append(data[prev:])
    return [p for p in pieces if p]


lines_strategy = st.lists(st.binary(min_size=1, max_size=200).filter(lambda b: b"\n" not in b and b.strip()), max_size=30)


@settings(max_examples=300, deadline=None)
@given(lines=lines_strategy, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_any_chunking_yields_the_same_lines(lines, cuts):
    data = b"".join(line + b"\n" for line in lines)
    frames = frames_of(split_at(data, cuts))
    assert [f.raw for f in frames] == lines
    assert all(f.terminated and not f.oversized for f in frames)


@settings(max_examples=200, deadline=None)
@given(lines=lines_strategy, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=20), limit=st.integers(1, 120))
def test_oversized_lines_are_flagged_with_their_size_whatever_the_chunking(lines, cuts, limit):
    data = b"".join(line + b"\n" for line in lines)
    frames = frames_of(split_at(data, cuts), max_bytes=limit)
    assert [f.size for f in frames] == [len(line) for line in lines]
    for frame, line in zip(frames, lines, strict=True):
        assert frame.oversized == (len(line) > limit)
        if frame.oversized:
            assert line.startswith(frame.raw)
            assert line.endswith(frame.tail) and len(frame.tail) <= OVERSIZE_TAIL
        else:
            assert frame.raw == line


def test_crlf_is_kept_and_blank_lines_are_skipped():
    frames = frames_of([b'{"a":1}\r\n\r\n   \n\n{"b":2}\n'])
    assert [f.raw for f in frames] == [b'{"a":1}\r', b'{"b":2}']


def test_final_line_without_newline_is_delivered_unterminated():
    frames = frames_of([b'{"a":1}\n{"b"', b":2}"])
    assert [f.raw for f in frames] == [b'{"a":1}', b'{"b":2}']
    assert frames[-1].terminated is False


def test_a_line_over_the_limit_is_not_buffered():
    reader = LineReader(-1, max_bytes=1000)
    reader.feed(b"x" * 5000)
    for _ in range(100):
        reader.feed(b"y" * 10_000)
    assert len(reader._buf) == 0  # discarded as it streams past
    frames = reader.feed(b"zz\n{}\n")
    assert frames[0].oversized and frames[0].size == 5000 + 1_000_000 + 2
    assert frames[1].raw == b"{}"


def test_reads_from_a_real_pipe_until_eof():
    r, w = os.pipe()
    payload = b"".join(b'{"n":%d}\n' % i for i in range(5000))
    os.write(w, payload[: len(payload) // 2])
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child writes the rest
        os.close(r)
        os.write(w, payload[len(payload) // 2 :] + b"{}")
        os._exit(0)
    os.close(w)
    got = [f.raw for batch in LineReader(r).batches() for f in batch]
    os.waitpid(pid, 0)
    os.close(r)
    assert got == payload.split(b"\n")[:-1] + [b"{}"]


@pytest.mark.parametrize("size", [10 * 1024 * 1024])
def test_ten_megabyte_line_in_small_chunks(size):
    line = b'{"x":"' + b"a" * size + b'"}'
    chunks = [line[i : i + 65536] for i in range(0, len(line), 65536)] + [b"\n"]
    frames = frames_of(chunks, max_bytes=64 * 1024 * 1024)
    assert len(frames) == 1 and frames[0].raw == line
