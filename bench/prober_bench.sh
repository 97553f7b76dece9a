#!/usr/bin/env bash
# Prober throughput and cost against local keep-alive servers.
# usage: bench/prober_bench.sh [build_dir] [targets] [interval_s] [seconds] [servers] [jitter]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ninja -C "$BUILD" secplat-prober-bench >/dev/null
"$BUILD/src/posture/probe/secplat-prober-bench" "${2:-10000}" "${3:-60}" "${4:-60}" "${5:-16}" "${6:-1.0}"
