#!/usr/bin/env bash
# Builds no-latest-py.wasm from app.py against the analyzer world of wit/analyzer.wit (0.2.0).
# `--stub-wasi` replaces every WASI import with a stub inside the component: the sandbox refuses
# files, sockets and the wall clock, and a Python plugin needs none of them at run time.
# Needs componentize-py (requirements.txt) on PATH, or COMPONENTIZE_PY set to it.
set -euo pipefail
cd "$(dirname "$0")"
"${COMPONENTIZE_PY:-componentize-py}" -d ../../../wit -w analyzer componentize --stub-wasi app \
  -o no-latest-py.wasm
