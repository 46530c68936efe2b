#!/usr/bin/env bash
# Install everything the tests need (Debian's Chromium and PostgreSQL, a venv with nnviz and its test
# extras), lint with ruff, then run the whole suite: unit, app (AppTest) and e2e (real browser).
# Extra args go to pytest, e.g. -m "not e2e" for the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/chromium ] || ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
.venv/bin/python -m ruff check .
exec .venv/bin/python -m pytest "$@"
