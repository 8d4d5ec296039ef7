"""A desktop notification for a held call, where the platform has a standard command for it (best effort)."""

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
