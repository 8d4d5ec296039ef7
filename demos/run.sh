#!/usr/bin/env bash
# The mcpwrap demo: six published MCP attacks, played by a scripted agent without and with mcpwrap, then (on
# Linux) a seventh that only the sandbox stops: a server that reads key files itself and sends them out.
# Offline; everything happens in a temporary directory (a fake home: nothing on this machine is read or deleted).
# It needs Python >= 3.10 only: the malicious server and the agent are Python, so no npm and no Node.js.
# Options go to demos/agent.py (--keep keeps the pins and audit log, --json PATH writes the results).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "demo: npm not found — not needed here: all six attacks run in Python (the tests need npm)" >&2
fi
bash .ci/setup.sh --demo  # .venv with mcpwrap and the mcp SDK; quick when nothing changed
.venv/bin/python demos/agent.py "$@"
if [ "$(uname -s)" = Linux ]; then
  .venv/bin/python demos/sandbox_demo.py   # a seventh attack: one that only the sandbox stops
fi
