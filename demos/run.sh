#!/usr/bin/env bash
# The mcpwrap demo: six published MCP attacks, played by a scripted agent without and with mcpwrap.
# Offline; everything happens in a temporary directory (a fake home: nothing on this machine is read or deleted).
# Options go to demos/agent.py (--keep keeps the pins and audit log, --json PATH writes the results).
set -euo pipefail
cd "$(dirname "$0")/.."
# Set up on the first run, and again whenever the dependencies changed (setup.sh's pip pass takes ~10 s even
# when there is nothing to do, which is most of the demo's budget).
stamp=.venv/.demo-setup-done
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ tests/servers/package-lock.json -nt "$stamp" ] \
   || ! .venv/bin/python -c 'import mcpwrap, mcp, rich' 2>/dev/null; then
  bash .ci/setup.sh
  touch "$stamp"
fi
exec .venv/bin/python demos/agent.py "$@"
