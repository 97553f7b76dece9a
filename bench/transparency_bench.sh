#!/usr/bin/env bash
# Transparency log append/proof costs on SQLite. usage: bench/transparency_bench.sh [build_dir] [entries]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ninja -C "$BUILD" transparency_bench >/dev/null
"$BUILD/src/trust/transparency_bench" "${2:-10000}"
