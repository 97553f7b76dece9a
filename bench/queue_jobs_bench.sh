#!/usr/bin/env bash
# Jobs/s through Redis Streams end to end (queued job → worker → result published → ack) with 1, 2
# and 4 workers: SecPlat's Redis queue adapter (one message per read, and 64 per read with results
# and acks batched) against the reference's pattern in Python (one worker process each:
# XREADGROUP COUNT 1, XADD result, XACK) in the same run, on a private Redis on loopback. The jobs
# are enqueued first (timed separately); the figure is the workers' rate from their start to the
# last result read. Everything shares this machine's cores with the Redis server.
#
# usage: bench/queue_jobs_bench.sh [build_dir] [jobs=20000] [kind=noop|small]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
JOBS=${2:-20000}
KIND=${3:-noop}
ninja -C "$BUILD" queue_jobs_bench >/dev/null
/usr/bin/python3 -c 'import redis' 2>/dev/null || { echo "python3-redis is needed for the anchor (scripts/install-deps.sh --bench)" >&2; exit 1; }

DIR=$(mktemp -d /tmp/secplat-bench-redis-XXXXXX)
trap '"$ROOT/tests/support/redis_test_server.sh" stop "$DIR"' EXIT
"$ROOT/tests/support/redis_test_server.sh" start "$DIR"
URL=$(cat "$DIR/url")

echo "jobs=$JOBS kind=$KIND (worker jobs/s; enqueue jobs/s in the last columns)"
printf '%-8s %10s %11s %11s %9s %9s %12s %12s\n' workers anchor_py secplat_b1 secplat_b64 ratio_b1 ratio_b64 \
  enq_anchor enq_secplat
for W in 1 2 4; do
  read -r _ _ _ anchor _ enq_a < <(/usr/bin/python3 "$ROOT/bench/queue_jobs_anchor.py" "$URL" "$JOBS" "$W" "$KIND")
  redis-cli -u "$URL" FLUSHALL >/dev/null
  read -r _ _ _ ours1 _ enq_s < <("$BUILD/src/queue/queue_jobs_bench" "$URL" "$JOBS" "$W" "$KIND" 1 2>/dev/null)
  redis-cli -u "$URL" FLUSHALL >/dev/null
  read -r _ _ _ ours64 _ _ < <("$BUILD/src/queue/queue_jobs_bench" "$URL" "$JOBS" "$W" "$KIND" 64 2>/dev/null)
  redis-cli -u "$URL" FLUSHALL >/dev/null
  awk -v w="$W" -v a="$anchor" -v b="$ours1" -v c="$ours64" -v ea="$enq_a" -v es="$enq_s" \
    'BEGIN { printf "%-8s %10s %11s %11s %8.1fx %8.1fx %12s %12s\n", w, a, b, c, b / a, c / a, ea, es }'
done
