#!/usr/bin/env bash
# Runs the engine benchmark on Parley and on the reference engine side by side, in one run, and
# writes docs/benchmarks.md. The reference is installed only in bench/.venv-reference, never as a
# project dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
REF_VENV=bench/.venv-reference
REF_PIN="autogen==0.14.1"
if [ ! -x "$REF_VENV/bin/python" ] || ! "$REF_VENV/bin/python" -c "import autogen" 2>/dev/null; then
  echo "bench: installing the reference ($REF_PIN) into $REF_VENV"
  python3 -m venv "$REF_VENV"
  "$REF_VENV/bin/pip" install -q "$REF_PIN"
fi
.venv/bin/python bench/compare.py --reference-python "$REF_VENV/bin/python" --rounds "${BENCH_ROUNDS:-5}"
# The run benchmarks need production services: PostgreSQL (DATABASE_URL) and Redis (REDIS_URL).
if [ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ]; then
  .venv/bin/python bench/runs_report.py
else
  echo "bench: DATABASE_URL and REDIS_URL are not both set; skipping the relay and concurrent-run benchmarks"
fi
