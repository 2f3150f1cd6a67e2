#!/usr/bin/env bash
# Quickstart, part 2: set up everything, then run the whole test suite,
# slow interop tests (legacy hub.Module venv, CLIs, Bazel) included.
# Extra arguments go to pytest (e.g. -m "not slow" for the fast part).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# configs/ and docs/ are generated (export/family.py, export/cards/): fail
# early, with a diff, if a hand edit or a config change was not regenerated.
.venv/bin/python -m export.family --check
.venv/bin/python -m export.cards --check
exec .venv/bin/python -m pytest "$@"
