#!/usr/bin/env bash
# The POST /findings/ write path without HTTP (writer CPU per upsert).
# usage: bench/findings_upsert_bench.sh [build_dir] [upserts] [window] [assets]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ninja -C "$BUILD" findings_upsert_bench >/dev/null
"$BUILD/src/findings/findings_upsert_bench" "${2:-200000}" "${3:-64}" "${4:-1000}"
