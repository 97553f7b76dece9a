#!/usr/bin/env bash
# Scan submission latency and live-log fan-out to WebSocket subscribers (issue: p99 delivery
# under 20 ms with 1,000 subscribers), through the real server, routes, event log and SQLite.
#
# usage: bench/scan_stream_bench.sh [build_dir] [subscribers=1000] [events=100] [interval_us=100000]
#                                   [submissions=500] [client_threads=2] [client=raw|beast]
# Without a client argument the fan-out runs twice: the lean epoll client, then the Beast one.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
shift || true
ninja -C "$BUILD" scan_stream_bench >/dev/null
# The server's JSON request log goes to stderr; only the figures are of interest here.
if [ $# -ge 6 ]; then
  "$BUILD/src/api/scan_stream_bench" "$@" 2>/dev/null
else
  set -- "${1:-1000}" "${2:-100}" "${3:-100000}" "${4:-500}" "${5:-2}"
  "$BUILD/src/api/scan_stream_bench" "$@" raw 2>/dev/null
  "$BUILD/src/api/scan_stream_bench" "$1" "$2" "$3" 1 "$5" beast 2>/dev/null | grep '^fan-out: [0-9]* events'
fi
