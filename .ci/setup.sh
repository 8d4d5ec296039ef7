#!/usr/bin/env bash
# Sets up everything mcpwrap's demo, tests and benchmarks need, from the registries only:
#   .venv/            Python venv with mcpwrap (editable) and the test extras (mcp SDK, mcp-server-time, …)
#   tests/servers/    the npm MCP servers and the Claude Code CLI, pinned by package-lock.json
# Idempotent and quick when nothing changed: each step is skipped while the hash of what it installs from
# (pyproject.toml, package-lock.json) matches the stamp it left.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

stamp_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
py_stamp=$(stamp_of pyproject.toml)
if [ "$(cat .venv/.mcpwrap-setup 2>/dev/null)" != "$py_stamp" ] || ! .venv/bin/python -c 'import mcpwrap, mcp, pytest, hypothesis' 2>/dev/null; then
  log=$(mktemp)
  if ! .venv/bin/python -m pip install --disable-pip-version-check -e '.[test,dev]' >"$log" 2>&1; then
    grep -v '^WARNING: Location' "$log" >&2
    echo "setup: pip install failed (output above)" >&2
    exit 1
  fi
  rm -f "$log"
  .venv/bin/python -c 'import mcpwrap, mcp, pytest, hypothesis'  # fail here, clearly, if the install did not take
  echo "$py_stamp" > .venv/.mcpwrap-setup
fi

npm_stamp=$(stamp_of tests/servers/package-lock.json)
if [ "$(cat tests/servers/node_modules/.mcpwrap-setup 2>/dev/null)" != "$npm_stamp" ] || [ ! -x tests/servers/node_modules/.bin/mcp-server-everything ]; then
  (cd tests/servers && npm ci --no-audit --no-fund --loglevel=error)
  echo "$npm_stamp" > tests/servers/node_modules/.mcpwrap-setup
fi
