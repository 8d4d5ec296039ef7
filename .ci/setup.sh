#!/usr/bin/env bash
# Sets up everything mcpwrap's demo, tests and benchmarks need, from the registries only:
#   .venv/            Python venv with mcpwrap (editable) and the test extras (mcp SDK, mcp-server-time, …)
#   tests/servers/    the npm MCP servers and the Claude Code CLI, pinned by package-lock.json
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import mcpwrap, mcp, pytest' # fail here, clearly, if the install did not take
if [ ! -d tests/servers/node_modules/@modelcontextprotocol/server-everything ] || [ tests/servers/package-lock.json -nt tests/servers/node_modules/.package-lock.json ]; then
  (cd tests/servers && npm ci --no-audit --no-fund --loglevel=error)
fi
