#!/usr/bin/env bash
# Install nnviz into .venv and start the dashboard on the embedded defaults (no network needed
# after the install). Extra args go to `streamlit run`, e.g. --server.port 8600.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/python -m streamlit run streamlit_app.py "$@"
