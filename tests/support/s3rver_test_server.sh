#!/usr/bin/env bash
# A throwaway S3 (npm s3rver 3.7.1) for the tests, on 127.0.0.1 and a free port, with the buckets
# raw, golden and test, data in DIR. s3rver is installed on first use into NPM_CACHE (default:
# <repo>/build/npm-s3rver, or $SECPLAT_S3RVER_PREFIX). Credentials: S3RVER / S3RVER. Note that
# s3rver checks only the access key id, never the signature (see tests/objects/sigv4_check.py).
# `start` writes the endpoint URL to DIR/url; `stop` shuts it down and removes DIR. `pause` stops
# the server, `resume` starts it again on the same port (for failure tests).
#
# usage: tests/support/s3rver_test_server.sh start|stop|pause|resume DIR
set -euo pipefail
cmd=${1:?start|stop|pause|resume}
dir=${2:?directory}
here=$(cd "$(dirname "$0")" && pwd)
prefix=${SECPLAT_S3RVER_PREFIX:-$here/../../build/npm-s3rver}
bin="$prefix/node_modules/s3rver/bin/s3rver.js"

running() { [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

install_s3rver() {
  [[ -f "$bin" ]] && return 0
  command -v node >/dev/null || { echo "node not found (install nodejs)" >&2; exit 1; }
  # s3rver 3.7.1 declares node >= 8.3; anything current works.
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if (( major < 10 )); then echo "node $(node --version) is too old for s3rver" >&2; exit 1; fi
  mkdir -p "$prefix"
  # A lock, so parallel first runs do not install over each other.
  (
    flock 9
    [[ -f "$bin" ]] || npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts --omit=optional \
      --no-save s3rver@3.7.1 >"$prefix/install.log" 2>&1 || { cat "$prefix/install.log" >&2; exit 1; }
  ) 9>"$prefix.lock"
}

s3_start() {
  local port=$1
  mkdir -p "$dir/data"
  # setsid: its own session, so a test runner waiting on our output is not held by the server.
  # --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES, which
  # OpenSSL 3 (node >= 17) only offers through the legacy provider; without it every second page
  # is a 500 InternalError.
  local legacy=()
  if node --openssl-legacy-provider -e '' 2>/dev/null; then legacy=(--openssl-legacy-provider); fi
  setsid node "${legacy[@]}" "$bin" -d "$dir/data" -a 127.0.0.1 -p "$port" --silent \
    --configure-bucket raw --configure-bucket golden --configure-bucket test \
    </dev/null >"$dir/s3rver.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 250); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return 0; fi
    if ! running; then break; fi
    sleep 0.02
  done
  cat "$dir/s3rver.log" >&2
  exit 1
}

s3_stop() {
  if running; then
    local pid
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    # s3rver takes ~2 s to close on SIGTERM; its data is throwaway, so do not wait that long.
    for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
  fi
  rm -f "$dir/pid"
}

case "$cmd" in
  start)
    if [[ -f "$dir/url" ]] && running; then exit 0; fi
    install_s3rver
    rm -rf "$dir"
    mkdir -p "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    s3_start "$port"
    echo "http://127.0.0.1:$port" >"$dir/url"
    ;;
  pause) s3_stop ;;
  resume)
    port=$(sed -E 's#.*:([0-9]+)$#\1#' "$dir/url")
    s3_start "$port"
    ;;
  stop)
    s3_stop
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop|pause|resume DIR" >&2; exit 2 ;;
esac
