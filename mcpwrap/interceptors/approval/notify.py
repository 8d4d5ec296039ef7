"""Desktop notifications: the channel that carries a held call's one-time code to a person when the client's
form does not (a client without forms, one that declines them unseen, or a call too long for a form).

Invariant: **the code never appears in any process's arguments or environment.** Both are readable by every
process of every user (``/proc/<pid>/cmdline``, and ``environ`` for the same user), so a process with no
terminal — a model's shell tool — could read a code passed to ``notify-send`` or ``osascript -e`` and approve the
call itself. So:

- Linux and other freedesktop systems: mcpwrap sends the notification itself over the session bus
  (:mod:`.dbus`: one ``org.freedesktop.Notifications.Notify`` call, critical urgency so it stays until
  dismissed). A METHOD_RETURN means a notification service showed it; no session bus (a headless machine, an
  SSH session), a bus without a notification service (an ERROR reply, its name in the reason) or no answer
  within :data:`NOTIFY_TIMEOUT` means no person-only channel exists, and the caller says so.
- macOS: ``osascript`` reads its script from standard input, never from ``-e``.

Limit: a same-user process that watches the session bus (``dbus-monitor``) still reads the message body, as it
can read the screen; the bus is not a boundary between processes of one user, only argv is a wider one.

The call runs with a deadline in the waiting call's own thread, never in a relay pump. What a notification
shows comes partly from the model (tool and server names): it is escaped for the daemon's markup, so a name
cannot restyle or hide the text around it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from .dbus import Connection, DBusError, session_bus_address

__all__ = ["NOTIFY_TIMEOUT", "notify_desktop", "notifier_available"]

NOTIFY_TIMEOUT = 5.0  # seconds a notification may take before the channel counts as unavailable
APP_NAME = "mcpwrap"
URGENCY_CRITICAL = 2  # freedesktop urgency: critical notifications stay until the person dismisses them

_NOTIFICATIONS = ("org.freedesktop.Notifications", "/org/freedesktop/Notifications", "org.freedesktop.Notifications")


def _use_osascript() -> bool:
    return sys.platform == "darwin" and shutil.which("osascript") is not None


def notifier_available() -> bool:
    """Whether a notification could be sent at all: a session bus address, or osascript on macOS (it may still
    fail when tried)."""
    return _use_osascript() or session_bus_address() is not None


def markup_escaped(text: str) -> str:
    # Body markup (<b>, <a href>) is interpreted by many daemons: escape what a name could use for it.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _wire_text(text: str) -> str:
    # D-Bus strings are valid UTF-8 without NUL, and a bus disconnects a sender that breaks that: a name with a NUL
    # or a lone surrogate must not be what keeps the notification from the person.
    return text.replace("\0", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _notify_bus(title: str, body: str) -> tuple[bool, str]:
    address = session_bus_address()
    if address is None:
        return False, "no session bus for desktop notifications (DBUS_SESSION_BUS_ADDRESS is not set and there is no $XDG_RUNTIME_DIR/bus)"
    try:
        bus = Connection(address, NOTIFY_TIMEOUT)
    except DBusError as exc:
        return False, str(exc)
    with bus:
        try:
            bus.call(
                *_NOTIFICATIONS,
                "Notify",
                "susssasa{sv}i",
                [APP_NAME, 0, "", _wire_text(title), _wire_text(markup_escaped(body)), [], {"urgency": ("y", URGENCY_CRITICAL)}, 0],
            )
        except DBusError as exc:
            return False, f"the desktop notification service failed ({exc})"
    return True, ""


def _notify_osascript(title: str, body: str) -> tuple[bool, str]:
    # The script (with the code) goes on standard input: "-" names stdin, so no argument carries the text.
    script = f"display notification {json.dumps(body)} with title {json.dumps(title)}\n"
    try:
        done = subprocess.run(
            ["osascript", "-"], input=script.encode("utf-8"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=True, timeout=NOTIFY_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return False, f"osascript did not finish within {NOTIFY_TIMEOUT:g} s"
    except OSError as exc:
        return False, f"osascript could not run: {exc.strerror or exc}"
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return False, f"osascript failed (exit status {done.returncode}{': ' + detail[-1][:200] if detail else ''})"
    return True, ""


def notify_desktop(title: str, body: str) -> tuple[bool, str]:
    """Show a notification; (True, "") once a notification service accepted it, else (False, why not)."""
    if _use_osascript():
        return _notify_osascript(title, body)
    return _notify_bus(title, body)
