#!/usr/bin/env bash
# Deriver throughput, end to end from the store. usage: bench/deriver_bench.sh [build_dir] [events] [assets]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ninja -C "$BUILD" deriver_bench >/dev/null
"$BUILD/src/posture/deriver_bench" "${2:-1000000}" "${3:-1000}"
