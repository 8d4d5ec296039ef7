"""Stand-in for the policy's ``approve`` rules in the approval tests, loaded into the real mcpwrap process.

``python -m mcpwrap.testing wrap …`` with ``MCPWRAP_TEST_HOOKS=approval_rig:NoteSetter,
mcpwrap.interceptors.approval:ApprovalInterceptor`` (and this directory on PYTHONPATH) puts a
requirement-setting interceptor in front of a second approval interceptor, exactly as the policy interceptor
does for a rule with ``action: approve``. ``MCPWRAP_TEST_APPROVAL`` (JSON) says which calls need approval and
with which options::

    {"tools": ["echo"], "timeout": 30, "on_timeout": "deny", "channels": ["elicitation"], "remember": ["once"]}
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mcpwrap._chain import ChainContext, Interceptor
from mcpwrap._message import ApprovalNeed, Direction
from mcpwrap.interceptors.approval import dbus

ENV = "MCPWRAP_TEST_APPROVAL"
HOOKS = "approval_rig:NoteSetter,mcpwrap.interceptors.approval:ApprovalInterceptor"


class NoteSetter(Interceptor):
    name = "test-approve-rule"

    def __init__(self, context: ChainContext) -> None:
        super().__init__(context)
        script = json.loads(os.environ.get(ENV, "{}"))
        self.tools = set(script.get("tools", ()))
        self.need = ApprovalNeed(
            rule=script.get("rule", "confirm-test"),
            reason=script.get("reason", "test rule: a person must confirm"),
            timeout=float(script.get("timeout", 30)),
            on_timeout=script.get("on_timeout", "deny"),
            channels=tuple(script.get("channels", ["elicitation", "stateless", "terminal"])),
            remember=tuple(script.get("remember", ["once", "session", "always"])),
        )

    def inspect(self, msg):
        if msg.direction is Direction.CLIENT_TO_SERVER and msg.is_request and msg.tool_name in self.tools:
            msg.notes.approval = self.need
        return None


# --- the person's screen: a private session bus with a notification service that records what it shows ----------------

NOTIFICATIONS = "notifications.log"
_RECORD_END = "\x1e"
BUS_START_TIMEOUT = 10.0  # seconds for dbus-daemon to print its address (slow shared machine)
_SERVICE_NAME = "org.freedesktop.Notifications"
_DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
_FOREVER = 365 * 86400.0  # the service's connection has no deadline of its own: it ends when the bus does


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no bus outlives the tests
    except (OSError, AttributeError):
        pass


class NotificationBus:
    """A private ``dbus-daemon --session`` and, unless ``service=False`` (a bus without a notification daemon),
    a thread owning ``org.freedesktop.Notifications`` that answers ``Notify`` with an id and records the summary
    and body in ``directory/notifications.log`` — what the person sees. ``on_notify(summary, body)`` runs before
    the answer, while the sender waits for it."""

    def __init__(self, directory: Path, *, service: bool = True, listen: str | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.received: list[list] = []  # each Notify call's arguments
        self.on_notify: Callable[[str, str], None] | None = None
        self.daemon = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address", *([f"--address={listen}"] if listen else [])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        assert self.daemon.stdout is not None
        ready, _, _ = select.select([self.daemon.stdout], [], [], BUS_START_TIMEOUT)
        self.address = self.daemon.stdout.readline().decode().strip() if ready else ""
        if not self.address:
            self.stop()
            raise AssertionError("dbus-daemon printed no address")
        self.thread: threading.Thread | None = None
        if service:
            self.conn = dbus.Connection(self.address, _FOREVER)
            (owned,) = self.conn.call(*_DBUS, "RequestName", "su", [_SERVICE_NAME, 4]).body  # 4: do not queue
            assert owned == 1, owned  # primary owner
            self.thread = threading.Thread(target=self._serve, name="fake-notification-service", daemon=True)
            self.thread.start()

    def env(self) -> dict[str, str]:
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def _serve(self) -> None:
        next_id = 0
        while True:
            try:
                msg = self.conn.receive()
            except (dbus.DBusError, OSError):
                return  # the bus went away: stop() or the end of the tests
            if msg.type != dbus.METHOD_CALL or msg.flags & dbus.NO_REPLY_EXPECTED:
                continue
            if msg.member == "Notify" and msg.interface == _SERVICE_NAME and msg.signature == "susssasa{sv}i":
                self.received.append(msg.body)
                summary, body = msg.body[3], msg.body[4]
                if self.on_notify is not None:
                    self.on_notify(summary, body)
                with open(self.directory / NOTIFICATIONS, "a", encoding="utf-8") as log:
                    log.write(f"{summary}\n{body}\n{_RECORD_END}\n")
                next_id += 1
                reply = dbus.Message(dbus.METHOD_RETURN, reply_serial=msg.serial, destination=msg.sender, signature="u", body=[next_id])
            else:
                reply = dbus.Message(
                    dbus.ERROR,
                    reply_serial=msg.serial,
                    destination=msg.sender,
                    error_name="org.freedesktop.DBus.Error.UnknownMethod",
                    signature="s",
                    body=[f"no method {msg.member}"],
                )
            try:
                self.conn.send(reply)
            except dbus.DBusError:
                return

    def stop(self) -> None:
        if self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(BUS_START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        if self.daemon.stdout is not None:
            self.daemon.stdout.close()
        if self.thread is not None:
            self.conn.close()
            self.thread.join(BUS_START_TIMEOUT)


_buses: dict[Path, NotificationBus] = {}


def notification_bus(directory: Path, *, service: bool = True) -> NotificationBus:
    """The private bus whose notifications land in ``directory`` (started on first use; :func:`stop_buses` ends
    them all)."""
    bus = _buses.get(directory)
    if bus is None:
        bus = _buses[directory] = NotificationBus(directory, service=service)
    return bus


def stop_buses() -> None:
    while _buses:
        _buses.popitem()[1].stop()


atexit.register(stop_buses)


def fake_notifier(directory: Path, *, works: bool = True) -> dict[str, str]:
    """Environment for a process whose desktop notifications go to ``directory`` (the person's screen) — or,
    with ``works=False``, to a session bus with no notification service, where sending one fails."""
    return notification_bus(directory, service=works).env()


# --- who can read what: every process's arguments and environment ------------------------------------------------------


def process_texts() -> dict[int, bytes]:
    """Each readable process's arguments and environment, as any process of this user can read them in /proc."""
    texts = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        parts = []
        for name in ("cmdline", "environ"):
            try:
                parts.append((entry / name).read_bytes())
            except OSError:  # gone, or another user's environment
                pass
        texts[int(entry.name)] = b"\0".join(parts)
    return texts


def holders_of(secret: str, texts) -> list[str]:
    """Which of ``texts`` (process arguments and environments) carry ``secret`` in any spelling of a code."""
    spellings = {secret.lower().encode(), secret.replace("-", "").lower().encode()}
    return [text[:200].decode("utf-8", "replace") for text in texts if any(s in text.lower() for s in spellings)]


class ProcessWatch(threading.Thread):
    """Reads every process's arguments and environment, over and over, until stopped; keeps each distinct text."""

    def __init__(self) -> None:
        super().__init__(name="process-watch", daemon=True)
        self.seen: set[bytes] = set()
        self.rounds = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.seen.update(process_texts().values())
            self.rounds += 1

    def stop(self) -> None:
        self._done.set()
        self.join(BUS_START_TIMEOUT)


def no_session_bus(directory: Path) -> dict[str, str]:
    """Environment of a headless machine: no session bus address, an empty runtime directory."""
    runtime = directory / "runtime"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {"DBUS_SESSION_BUS_ADDRESS": "", "XDG_RUNTIME_DIR": str(runtime)}


def notifications(directory: Path) -> list[str]:
    log = directory / NOTIFICATIONS
    if not log.exists():
        return []
    return [record.strip("\n") for record in log.read_text().split(_RECORD_END + "\n") if record.strip()]


def code_in(text: str) -> tuple[str, str] | None:
    """(approval id, one-time code) from what a notification or form shows, or None."""
    found = re.search(r"mcpwrap approve ([0-9a-f]{8})\b.*?code[: ]+([0-9A-Z]{4}-[0-9A-Z]{4})", text, re.S)
    return (found.group(1), found.group(2)) if found else None


def wait_for_code(directory: Path, timeout: float = 20.0) -> tuple[str, str]:
    """The approval id and code of the first notification that carries one (what the person reads)."""
    deadline = time.monotonic() + timeout
    while True:
        for text in notifications(directory):
            found = code_in(text)
            if found:
                return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no notification with a code within {timeout} s: {notifications(directory)}")
        time.sleep(0.05)
