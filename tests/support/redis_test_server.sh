#!/usr/bin/env bash
# A throwaway Redis for the tests, on 127.0.0.1 and a free port, no persistence, data in DIR.
# `start` writes the URL to DIR/url; `stop` shuts it down and removes DIR. `pause` stops the
# server, `resume` starts it again on the same port (for failure tests). Without persistence a
# restart loses every stream; with SECPLAT_REDIS_PERSIST=1 at `start` the server keeps an
# append-only file fsynced on every write, so whatever it acknowledged survives the restart.
#
# usage: tests/support/redis_test_server.sh start|stop|pause|resume DIR
set -euo pipefail
cmd=${1:?start|stop|pause|resume}
dir=${2:?directory}
command -v redis-server >/dev/null || { echo "redis-server not found (install redis-server)" >&2; exit 1; }

running() { [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

redis_start() {
  # Daemonized, so no test runner waits on its output; the pid file appears once it runs.
  local persist=(--appendonly no)
  if [[ -f "$dir/persist" ]]; then persist=(--appendonly yes --appendfsync always); fi
  redis-server --bind 127.0.0.1 --port "$1" --dir "$dir" --save '' "${persist[@]}" --daemonize yes \
    --pidfile "$dir/pid" --logfile "$dir/redis.log" --maxclients 2000 </dev/null >/dev/null 2>&1
  for _ in $(seq 1 250); do
    if redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1; then return 0; fi
    sleep 0.02
  done
  cat "$dir/redis.log" >&2
  exit 1
}

redis_stop() {
  if running; then
    local pid
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
  fi
  rm -f "$dir/pid"
}

case "$cmd" in
  start)
    if [[ -f "$dir/url" ]] && running; then exit 0; fi
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ "${SECPLAT_REDIS_PERSIST:-0}" == 1 ]]; then touch "$dir/persist"; fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis_start "$port"
    echo "redis://127.0.0.1:$port/0" >"$dir/url"
    ;;
  pause) redis_stop ;;
  resume)
    port=$(sed -E 's#.*:([0-9]+)/.*#\1#' "$dir/url")
    redis_start "$port"
    ;;
  stop)
    redis_stop
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop|pause|resume DIR" >&2; exit 2 ;;
esac
