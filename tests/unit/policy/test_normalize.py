"""Property tests: globs agree with a reference matcher; path normalisation is a fixed point that every
spelling of a path reaches."""

from __future__ import annotations

import posixpath
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpwrap._policy.normalize import clean_text, compile_glob, is_path_like, normalize_path

GLOB_ALPHABET = st.text(alphabet="ab/.*?", max_size=8)
TEXT = st.text(alphabet="ab/.", max_size=12)


def reference_glob(pattern: str, text: str) -> bool:
    """Backtracking reference on short inputs: * is any run (incl. /), ? one character, rest literal."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.S) is not None


@settings(max_examples=300, deadline=None)
@given(GLOB_ALPHABET, TEXT)
def test_glob_agrees_with_reference(pattern, text):
    assert compile_glob(pattern)(text) == reference_glob(pattern, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab*", max_size=6), st.text(alphabet="ab", max_size=40))
def test_star_only_globs_agree_with_reference(pattern, text):
    assert compile_glob(pattern)(text) == reference_glob(pattern, text)


SEGMENT = st.sampled_from(["etc", "passwd", ".", "..", "", "a b", "ü", ".ssh"])
PATHS = st.lists(SEGMENT, min_size=1, max_size=7).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=200, deadline=None)
@given(PATHS)
def test_normalised_path_is_a_fixed_point(path):
    n = normalize_path(path)
    assert normalize_path(n) == n
    assert n.startswith("/")
    assert "//" not in n
    assert "/./" not in n and not n.endswith("/.")
    assert "/../" not in n and not n.endswith("/..")
    assert n == "/" or not n.endswith("/")


@settings(max_examples=200, deadline=None)
@given(PATHS)
def test_every_spelling_reaches_the_same_path(path):
    n = normalize_path(path)
    assert normalize_path("file://" + path) == n
    assert normalize_path("file://localhost" + path) == n
    assert normalize_path(path.replace("/", "\\")) == n
    assert normalize_path(path + "/") == n
    assert normalize_path(path.replace("/", "//")) == n
    assert normalize_path("/tmp/.." + path) == n
    # What the OS would open (lexically) is what we compute.
    assert n == posixpath.normpath("/" + path.lstrip("/")) or n == "/"


def test_path_likeness():
    for value in ["/etc", "~/.ssh", "./x", "../x", "file:///etc", "C:\\Windows", "a/../b", "a\\b", "x//y"]:
        assert is_path_like(value), value
    for value in ["rm -rf", "https://example.com/a/../b", "hello world", "", "s3://bucket/key"]:
        assert not is_path_like(value), value


def test_home_and_relative(monkeypatch):
    monkeypatch.setenv("HOME", "/home/u")
    assert normalize_path("~") == "/home/u"
    assert normalize_path("~/.ssh/id_rsa") == "/home/u/.ssh/id_rsa"
    assert normalize_path("../x", cwd="/srv/app") == "/srv/x"
    assert normalize_path("C:\\Users\\..\\Windows") == "C:/Windows"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_clean_text_is_idempotent_and_drops_invisibles(text):
    c = clean_text(text)
    assert clean_text(c) == c
    assert "\u200b" not in c and "\u200d" not in c and "\u202e" not in c and "\ufeff" not in c


def test_clean_text_examples():
    assert clean_text("ｒｍ －ｒｆ") == "rm -rf"
    assert clean_text("s\u00adu\u200bdo") == "sudo"
    assert clean_text("𝐞𝐱𝐞𝐜") == "exec"
    assert clean_text("plain ascii") == "plain ascii"


def test_bracketed_character_is_literal():
    assert compile_glob("a[*]b")("a*b") and not compile_glob("a[*]b")("axxb")
    assert compile_glob("what[?]")("what?") and not compile_glob("what[?]")("whatx")
    assert compile_glob("[[]x]")("[x]")
    assert compile_glob("*[fd00:ec2::254]*")("http://[fd00:ec2::254]/latest")  # not a one-character class
    assert compile_glob("*[*]*")("2*3") and not compile_glob("*[*]*")("23")
