#!/usr/bin/env bash
# Notification pipeline (correlation stream → incident → notifier → webhook) throughput and delay on
# SQLite. usage: bench/notify_bench.sh [build_dir] [burst_events] [trickle_events] [trickle_gap_ms]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ninja -C "$BUILD" notify_bench >/dev/null
"$BUILD/src/incidents/notify_bench" "${2:-2000}" "${3:-200}" "${4:-20}"
