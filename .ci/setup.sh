#!/usr/bin/env bash
# Sets up what mcpwrap's demo, tests and benchmarks need, from the registries only, and says what it is doing:
#   .venv/            Python venv with mcpwrap (editable) and the extras asked for
#   tests/servers/    the npm MCP servers and the Claude Code CLI, pinned by package-lock.json (tests only)
#   dbus-daemon       a private session bus for the approval tests' desktop notifications (tests only, Linux;
#                     Debian/Ubuntu package dbus-daemon, part of dbus on older releases; installed with apt-get
#                     when missing and this runs as root, else named)
#
#   bash .ci/setup.sh           everything the tests need: extras test,dev and the npm servers
#   bash .ci/setup.sh --demo    only what the demo needs: extra demo (the mcp SDK); no npm at all
#
# Idempotent and quick when nothing changed: each step is skipped while the hash of what it installs from
# (pyproject.toml, package-lock.json) and the extras it installed match the stamp it left.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

extras="test,dev"
want_npm=1
case "${1:-}" in
  --demo) extras="demo"; want_npm=0 ;;
  "") ;;
  *) echo "usage: bash .ci/setup.sh [--demo]" >&2; exit 2 ;;
esac

say() { echo "setup: $*" >&2; }
stamp_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }
now() { date +%s; }

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  say "mcpwrap needs Python >= 3.10; $PY is $("$PY" --version 2>&1 || echo missing) (set PYTHON=/path/to/python3.x)"
  exit 1
fi

# --- Python: .venv with mcpwrap and the extras ---------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating .venv ($("$PY" --version 2>&1))"
  "$PY" -m venv .venv
fi
py_hash=$(stamp_of pyproject.toml)
installed=$(cat .venv/.mcpwrap-setup 2>/dev/null || true)  # "<hash> <extras>" of the last install
have_extras=""
[ "${installed%% *}" = "$py_hash" ] && have_extras=${installed#* }
covered=1
for extra in ${extras//,/ }; do
  case ",$have_extras," in
    *",$extra,"*) ;;
    *",test,"*) [ "$extra" = demo ] || covered=0 ;;  # the test extra holds everything the demo needs
    *) covered=0 ;;
  esac
done
# find_spec, not import: importing the mcp SDK costs a second or more, on every run of the demo
installed_ok="import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('mcpwrap', 'mcp')))"
if [ "$covered" = 0 ] || ! .venv/bin/python -c "$installed_ok" 2>/dev/null; then
  all=$extras
  if [ -n "$have_extras" ] && [ "${installed%% *}" = "$py_hash" ]; then all="$have_extras,$extras"; fi
  say "installing mcpwrap (editable) with [$all] into .venv from PyPI; the first time takes a minute or so"
  start=$(now)
  log=$(mktemp)
  # One line per package as pip reaches it (pip's own progress bars are for a terminal it owns).
  if ! .venv/bin/python -m pip install --disable-pip-version-check --progress-bar off -e ".[$all]" 2>&1 | tee "$log" |
      while IFS= read -r line; do
        case "$line" in
          Collecting*) echo "  ${line%% (*}" >&2 ;;
          "Installing collected packages"*) echo "  installing $(echo "$line" | tr ',' '\n' | wc -l) packages" >&2 ;;
        esac
      done; then  # pipefail: the pipeline fails when pip does
    grep -v '^WARNING: Location' "$log" >&2
    rm -f "$log"
    say "pip install failed (output above)"
    exit 1
  fi
  rm -f "$log"
  .venv/bin/python -c 'import mcpwrap, mcp'  # fail here, clearly, if the install did not take
  echo "$py_hash $all" > .venv/.mcpwrap-setup
  say "Python packages ready in $(( $(now) - start )) s"
fi

# --- dbus-daemon: the approval tests run a private session bus with a fake notification service -------------------
if [ "$want_npm" = 1 ] && [ "$(uname -s)" = Linux ] && ! command -v dbus-daemon >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing dbus-daemon with apt-get (the approval tests' private session bus)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dbus-daemon >&2 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q dbus >&2
  else
    say "dbus-daemon not found: the approval tests run a private session bus. Install it (Debian/Ubuntu: sudo apt-get"
    say "install dbus-daemon; Fedora: dbus-daemon; Arch: dbus), then run this again."
    exit 1
  fi
fi

# --- npm: the real MCP servers and the Claude Code CLI the integration tests run --------------------------------
if [ "$want_npm" = 1 ]; then
  if ! command -v npm >/dev/null 2>&1; then
    say "npm not found: the tests run real Node.js MCP servers (server-everything, server-filesystem) and the"
    say "Claude Code CLI. Install Node.js >= 20 with npm, then run this again. (The demo needs no npm: bash demos/run.sh)"
    exit 1
  fi
  npm_stamp=$(stamp_of tests/servers/package-lock.json)
  if [ "$(cat tests/servers/node_modules/.mcpwrap-setup 2>/dev/null)" != "$npm_stamp" ] || [ ! -x tests/servers/node_modules/.bin/mcp-server-everything ]; then
    if [ -L tests/servers/node_modules ]; then
      # A linked node_modules belongs to another checkout: npm ci would replace the link and empty the tree it
      # points to, under everyone who shares it.
      say "tests/servers/node_modules links to $(readlink tests/servers/node_modules), which is not set up for this package-lock.json:"
      say "run bash .ci/setup.sh in that checkout, or remove the link to install a copy here"
      exit 1
    fi
    say "installing the npm test servers and the Claude Code CLI into tests/servers (about 400 MB; the first time takes under a minute)"
    start=$(now)
    (cd tests/servers && npm ci --no-audit --no-fund --loglevel=error)
    echo "$npm_stamp" > tests/servers/node_modules/.mcpwrap-setup
    say "npm packages ready in $(( $(now) - start )) s"
  fi
fi
