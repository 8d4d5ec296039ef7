"""Desktop notifications: the channel that carries a held call's one-time code to a person when the client's
form does not (a client without forms, one that declines them unseen, or a call too long for a form).

The platform's standard command shows it — ``notify-send`` (freedesktop notification daemons: GNOME, KDE,
dunst, mako …) or ``osascript`` on macOS — and its exit status says whether a notification service took it:
``notify-send`` fails without a session bus or daemon (a headless machine, an SSH session), and that failure
is what tells the caller no person-only channel exists. The command runs with a deadline
(:data:`NOTIFY_TIMEOUT`) in the waiting call's own thread, never in a relay pump.

What a notification shows comes partly from the model (tool and server names): it is escaped for the
daemon's markup, so a name cannot restyle or hide the text around it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

__all__ = ["NOTIFY_TIMEOUT", "notify_desktop", "notifier_available"]

NOTIFY_TIMEOUT = 5.0  # seconds a notification command may take before the channel counts as unavailable


def _command(title: str, body: str) -> list[str] | None:
    if sys.platform == "darwin" and shutil.which("osascript"):
        return ["osascript", "-e", f"display notification {json.dumps(body)} with title {json.dumps(title)}"]
    if shutil.which("notify-send"):
        # Body markup (<b>, <a href>) is interpreted by many daemons: escape what a name could use for it.
        marked = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        # critical: the notification stays until the person dismisses it, instead of fading in seconds.
        return ["notify-send", "--app-name=mcpwrap", "--urgency=critical", title, marked]
    return None


def notifier_available() -> bool:
    """Whether this platform has a notification command at all (it may still fail when run)."""
    return _command("", "") is not None


def notify_desktop(title: str, body: str) -> tuple[bool, str]:
    """Show a notification; (True, "") once the platform's command accepted it, else (False, why not)."""
    cmd = _command(title, body)
    if cmd is None:
        return False, "no notification command (notify-send, osascript) is installed"
    try:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=True, timeout=NOTIFY_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return False, f"{cmd[0]} did not finish within {NOTIFY_TIMEOUT:g} s"
    except OSError as exc:
        return False, f"{cmd[0]} could not run: {exc.strerror or exc}"
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return False, f"{cmd[0]} failed (exit status {done.returncode}{': ' + detail[-1][:200] if detail else ''})"
    return True, ""
