#!/usr/bin/env bash
# Runs the benchmarks: secplat serve and the FastAPI anchor under the same wrk load, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/http_bench.py "$@"
