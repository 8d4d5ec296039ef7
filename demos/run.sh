#!/usr/bin/env bash
# The mcpwrap demo: six published MCP attacks, played by a scripted agent without and with mcpwrap.
# Offline; everything happens in a temporary directory (a fake home: nothing on this machine is read or deleted).
# Options go to demos/agent.py (--keep keeps the pins and audit log, --json PATH writes the results).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh  # quick when nothing changed
exec .venv/bin/python demos/agent.py "$@"
