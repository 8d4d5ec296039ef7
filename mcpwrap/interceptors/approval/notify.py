"""A desktop notification that a call waits for a person (``approval.desktop_notification``).

Best effort and fire-and-forget: the platform's standard command (``osascript`` on macOS, ``notify-send``
elsewhere) runs detached, with no input and its output discarded; where there is none, nothing happens.
The notification names the server, the call and the approval id — it goes to the person's desktop, never into
anything the model reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

__all__ = ["notify_desktop"]


def notify_desktop(server: str, tool: str, approval_id: str) -> None:
    """Best effort: a desktop notification where the platform has a standard command for it."""
    title = "mcpwrap: approval needed"
    body = f"{server}: {tool} — run `mcpwrap approve {approval_id}` or `mcpwrap deny {approval_id}`"
    if sys.platform == "darwin" and shutil.which("osascript"):
        cmd = ["osascript", "-e", f"display notification {json.dumps(body)} with title {json.dumps(title)}"]
    elif shutil.which("notify-send"):
        cmd = ["notify-send", "--app-name=mcpwrap", title, body]
    else:
        return
    try:
        subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
    except OSError:
        pass
