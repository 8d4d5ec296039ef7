"""The desktop notification channel: the small D-Bus client against a real private ``dbus-daemon`` and a fake
notification service on it (approval_rig.NotificationBus), its marshalling byte for byte, each way the channel
is unavailable, and osascript on macOS reading its script from standard input."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading

import pytest
from approval_rig import NotificationBus, no_session_bus, notifications

from mcpwrap.interceptors.approval import _notify_desktop, dbus, notify
from mcpwrap.interceptors.approval.notify import notifier_available

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon is not installed (package dbus-daemon / dbus)")


@pytest.fixture
def linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")


def use(monkeypatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


# --- marshalling --------------------------------------------------------------------------------------------------------


def test_marshalling_follows_the_alignment_rules():
    # A byte, then a uint32 aligned to 4; a string is length, bytes, NUL.
    assert bytes(dbus.marshal("yu", [1, 0x01020304])) == b"\x01\0\0\0\x04\x03\x02\x01"
    assert bytes(dbus.marshal("s", ["ab"])) == b"\x02\0\0\0ab\0"
    assert bytes(dbus.marshal("g", ["sv"])) == b"\x02sv\0"
    # An array of dict entries: the length, padding to 8 that the length does not count, entries aligned to 8;
    # a variant is its signature then its value.
    hints = bytes(dbus.marshal("a{sv}", [{"urgency": ("y", 2)}]))
    assert hints == b"\x10\0\0\0" + b"\0" * 4 + b"\x07\0\0\0urgency\0" + b"\x01y\0" + b"\x02"
    # An empty array of strings: just its zero length.
    assert bytes(dbus.marshal("as", [[]])) == b"\0\0\0\0"


def test_marshalled_values_read_back():
    sig = "susssasa{sv}ib(xd)ao"
    values = ["mcpwrap", 0, "", "title ✓", "body", ["a", "b"], {"urgency": ("y", 2), "x": ("as", ["1"])}, -1, True, (-(2**40), 0.5), ["/a/b"]]
    assert dbus.unmarshal(sig, bytes(dbus.marshal(sig, values))) == values


def test_a_message_reads_back_with_its_header_fields():
    msg = dbus.Message(dbus.METHOD_CALL, serial=7, path="/p", interface="i.f", member="M", destination="d.e", signature="su", body=["x", 3])
    data = msg.encode()
    assert data[:4] == b"l\x01\0\x01" and len(data) == dbus._frame_length(data[:16])
    back = dbus.decode(data)
    assert (back.serial, back.path, back.interface, back.member, back.destination, back.signature, back.body) == (7, "/p", "i.f", "M", "d.e", "su", ["x", 3])


@pytest.mark.parametrize("sig", ["a", "(s", "{sv", "z"])
def test_a_bad_signature_is_refused(sig):
    with pytest.raises(dbus.DBusError):
        dbus.split_signature(sig)


# --- over a real bus ------------------------------------------------------------------------------------------------------


def test_notification_goes_over_the_session_bus_escaped_and_critical(tmp_path, monkeypatch, linux):
    bus = NotificationBus(tmp_path / "screen")
    try:
        use(monkeypatch, bus.env())
        assert notifier_available()
        assert _notify_desktop("mcpwrap: approval needed", "files: <b>write_file</b> & co — mcpwrap approve 1a2b3c4d") == (True, "")
        ((app, replaces, icon, summary, body, actions, hints, timeout),) = bus.received
        assert (app, replaces, icon, actions, timeout) == ("mcpwrap", 0, "", [], 0)
        assert hints == {"urgency": ("y", 2)}  # critical: stays until the person dismisses it
        assert summary == "mcpwrap: approval needed"
        assert body == "files: &lt;b&gt;write_file&lt;/b&gt; &amp; co — mcpwrap approve 1a2b3c4d"  # no markup from names
        assert notifications(tmp_path / "screen") == [f"{summary}\n{body}"]
    finally:
        bus.stop()


def test_text_the_bus_would_refuse_is_made_valid_not_dropped(tmp_path, monkeypatch, linux):
    bus = NotificationBus(tmp_path / "screen")
    try:
        use(monkeypatch, bus.env())
        assert _notify_desktop("t\0itle", "a\0b \ud800 c") == (True, "")
        assert notifications(tmp_path / "screen") == ["t\ufffditle\na\ufffdb ? c"]
    finally:
        bus.stop()


def test_an_abstract_socket_address_and_the_runtime_directory_fallback(tmp_path, monkeypatch, linux):
    name = f"mcpwrap-test-{os.getpid()}-{id(tmp_path)}"
    bus = NotificationBus(tmp_path / "screen", listen=f"unix:abstract={name}")
    try:
        assert "abstract=" in bus.address
        use(monkeypatch, {"DBUS_SESSION_BUS_ADDRESS": f"unix:abstract={name}"})
        assert _notify_desktop("one", "abstract") == (True, "")
    finally:
        bus.stop()
    bus = NotificationBus(tmp_path / "screen2")
    try:
        path = dict(p.split("=", 1) for p in bus.address.split(":", 1)[1].split(","))["path"]
        runtime = tmp_path / "runtime"
        runtime.mkdir()
        (runtime / "bus").symlink_to(path)
        use(monkeypatch, {"DBUS_SESSION_BUS_ADDRESS": "", "XDG_RUNTIME_DIR": str(runtime)})
        assert _notify_desktop("two", "runtime dir") == (True, "")
    finally:
        bus.stop()
    assert [n.splitlines()[0] for n in notifications(tmp_path / "screen") + notifications(tmp_path / "screen2")] == ["one", "two"]


def test_a_bus_without_a_notification_service_says_so(tmp_path, monkeypatch, linux):
    bus = NotificationBus(tmp_path / "empty", service=False)
    try:
        use(monkeypatch, bus.env())
        assert notifier_available()  # a bus: worth trying
        shown, why = _notify_desktop("t", "b")
        assert not shown and why.startswith("the desktop notification service failed (org.freedesktop.DBus.Error.ServiceUnknown")
    finally:
        bus.stop()


def test_headless_there_is_no_channel(tmp_path, monkeypatch, linux):
    use(monkeypatch, no_session_bus(tmp_path))
    assert not notifier_available()
    assert _notify_desktop("t", "b") == (
        False,
        "no session bus for desktop notifications (DBUS_SESSION_BUS_ADDRESS is not set and there is no $XDG_RUNTIME_DIR/bus)",
    )


def test_an_unreachable_or_foreign_address_says_so(tmp_path, monkeypatch, linux):
    use(monkeypatch, {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'gone'}"})
    assert _notify_desktop("t", "b") == (False, f"the session bus could not be reached ({tmp_path / 'gone'}: No such file or directory)")
    use(monkeypatch, {"DBUS_SESSION_BUS_ADDRESS": "tcp:host=localhost,port=1"})
    assert _notify_desktop("t", "b") == (False, "no unix: entry in the bus address 'tcp:host=localhost,port=1'")


def _listener(tmp_path, answer: bytes | None):
    """A socket at a bus address that answers the authentication with ``answer``, or never answers."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "bus"))
    server.listen(1)
    done = threading.Event()

    def serve():
        conn, _ = server.accept()
        with conn:
            if answer is not None:
                conn.recv(4096)
                conn.sendall(answer)
            done.wait(10)

    threading.Thread(target=serve, daemon=True).start()
    return server, done


def test_a_bus_that_never_answers_times_out(tmp_path, monkeypatch, linux):
    server, done = _listener(tmp_path, None)
    monkeypatch.setattr(notify, "NOTIFY_TIMEOUT", 0.3)
    use(monkeypatch, {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'bus'}"})
    try:
        assert _notify_desktop("t", "b") == (False, "the session bus did not answer in time")
    finally:
        done.set()
        server.close()


def test_a_bus_that_refuses_authentication_says_so(tmp_path, monkeypatch, linux):
    server, done = _listener(tmp_path, b"REJECTED EXTERNAL\r\n")
    use(monkeypatch, {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'bus'}"})
    try:
        assert _notify_desktop("t", "b") == (False, "the session bus refused authentication (REJECTED EXTERNAL)")
    finally:
        done.set()
        server.close()


# --- macOS ------------------------------------------------------------------------------------------------------------------


def test_osascript_reads_the_script_from_stdin_never_from_its_arguments(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    argv_log, stdin_log = tmp_path / "argv", tmp_path / "stdin"
    fake = bin_dir / "osascript"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{argv_log}"\ncat > "{stdin_log}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert notifier_available()
    assert _notify_desktop("mcpwrap: approval needed", 'code: ABCD-EFGH "quoted"') == (True, "")
    assert argv_log.read_text().splitlines() == ["-"]
    assert stdin_log.read_text() == 'display notification "code: ABCD-EFGH \\"quoted\\"" with title "mcpwrap: approval needed"\n'
    fake.write_text("#!/bin/sh\necho 'execution error: not allowed' >&2\nexit 1\n")
    assert _notify_desktop("t", "b") == (False, "osascript failed (exit status 1: execution error: not allowed)")
