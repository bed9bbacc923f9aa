# Shared by scripts/demo and scripts/test: make .venv with Python 3.11+ and install the project.
# Sourced, not run. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "expo needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  exit 1
}

extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi
stamp=".venv/.installed${extras:+-$extras}"
# The install compiles the media path's C extensions (streaming/_rtp*.c): they need a C compiler and
# Python's headers. Without them it still succeeds, and the media path runs in Python instead.
has_headers='import os, sysconfig, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))'
if ! { command -v cc >/dev/null 2>&1 && .venv/bin/python -c "$has_headers"; } &&
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing a C compiler and Python's headers for streaming/_rtp*.c..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc python3-dev) >/dev/null
fi
# Reinstall only when the dependency list or a C extension (built by the install) changed.
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ -n "$(find streaming -name "_rtp*.c" -newer "$stamp")" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  touch "$stamp"
fi
