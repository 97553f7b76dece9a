#!/usr/bin/env bash
# A SecPlat cluster on one machine: PostgreSQL and Redis from Debian on loopback with their data in
# DIR, and the roles as separate processes (api, N workers, ingest, deriver, notifier, correlator)
# sharing one data dir.
# The black-box cluster tests drive the same script.
#
#   scripts/local-cluster.sh start DIR [--workers N] [--apis N] [--port P]
#       Starts everything; prints the API URL(s) and the admin password. DIR/env holds the
#       environment of the cluster (source it to run `secplat` commands against it).
#   scripts/local-cluster.sh add DIR ROLE      one more process of ROLE (api, worker, ingest, deriver,
#                                              notifier, correlator)
#   scripts/local-cluster.sh kill DIR NAME [SIGNAL]   signal one process (e.g. worker-1 KILL)
#   scripts/local-cluster.sh status DIR        the processes and whether they run
#   scripts/local-cluster.sh stop DIR          stops the roles, PostgreSQL and Redis; removes DIR
#
# Processes are named ROLE-N; DIR/run/NAME.pid, DIR/run/NAME.port (every process listens on its own
# port: the API, or /health, /ready and /metrics for the other roles), logs in DIR/logs/NAME.log.
# The workers and the notifier hold no database credentials: each role gets a service API key
# (created through the API at start, kept in DIR/worker.env and DIR/notifier.env) and records what
# it does (scan state and logs, findings, job logs, upload permits; delivery records) through the
# first API.
# SECPLAT_BINARY selects the binary (default: build/secplat next to this script).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${SECPLAT_BINARY:-$root/build/secplat}
cmd=${1:?usage: $0 start|add|kill|status|stop DIR ...}
dir=${2:?directory}
shift 2

# Alive and not a zombie (a killed process stays one until whoever adopted it reaps it).
running() { kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

next_name() {  # ROLE → ROLE-N, the first N without a pid file
  local n=1
  while [[ -e "$dir/run/$1-$n.pid" ]]; do n=$((n + 1)); done
  echo "$1-$n"
}

start_role() {  # ROLE → starts one process of it, prints its name
  local role=$1 name port
  name=$(next_name "$role")
  if [[ $role == api ]]; then
    port=${api_port:-$(free_port)}
    api_port=""
  else
    port=$(free_port)
  fi
  echo "$port" >"$dir/run/$name.port"
  if [[ $role == notifier || $role == worker ]]; then
    # The API's address and a service key instead of the database URL.
    # shellcheck disable=SC1091
    (set -a && . "$dir/env" && . "$dir/$role.env" && unset SECPLAT_DATABASE_URL &&
      exec "$bin" "$role" --listen "127.0.0.1:$port" >"$dir/logs/$name.log" 2>&1) &
  else
    # shellcheck disable=SC1091
    (set -a && . "$dir/env" && exec "$bin" "$role" --listen "127.0.0.1:$port" >"$dir/logs/$name.log" 2>&1) &
  fi
  echo $! >"$dir/run/$name.pid"
  # The API once it can serve; the other roles once their health endpoint answers.
  local check=/health
  [[ $role == api ]] && check=/ready
  for _ in $(seq 1 500); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port$check" 2>/dev/null; then break; fi
    if ! running "$(cat "$dir/run/$name.pid")"; then
      echo "$name exited:" >&2
      cat "$dir/logs/$name.log" >&2
      exit 1
    fi
    sleep 0.02
  done
  echo "$name"
}

case "$cmd" in
  start)
    workers=2 apis=1 api_port=""
    while [[ $# -gt 0 ]]; do
      case "$1" in
        --workers) workers=$2; shift 2 ;;
        --apis) apis=$2; shift 2 ;;
        --port) api_port=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
      esac
    done
    [[ -x "$bin" ]] || { echo "secplat binary not found at $bin (make build, or set SECPLAT_BINARY)" >&2; exit 1; }
    mkdir -p "$dir/run" "$dir/logs" "$dir/data"
    "$root/tests/support/pg_test_server.sh" start "$dir/pg"
    "$root/tests/support/redis_test_server.sh" start "$dir/redis"
    password=${SECPLAT_ADMIN_PASSWORD:-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')}
    {
      echo "SECPLAT_DATABASE_URL=$(cat "$dir/pg/url")"
      echo "SECPLAT_REDIS_URL=$(cat "$dir/redis/url")"
      echo "SECPLAT_DATA_DIR=$dir/data"
      echo "SECPLAT_AUTH_JWT_SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '/+=')"
      echo "SECPLAT_ADMIN_PASSWORD=$password"
      # Whatever the caller set for the cluster (SECPLAT_*), e.g. allowed source roots or timeouts.
      env | grep -E '^SECPLAT_' | grep -vE '^SECPLAT_(DATABASE_URL|REDIS_URL|DATA_DIR|AUTH_JWT_SECRET|ADMIN_PASSWORD|BINARY|CONFIG)=' || true
    } >"$dir/env"
    chmod 600 "$dir/env"
    # shellcheck disable=SC1091
    (set -a && . "$dir/env" && "$bin" migrate >/dev/null)
    for _ in $(seq 1 "$apis"); do start_role api >/dev/null; done
    # A service API key per role without database credentials (role service: the /internal routes
    # and nothing else).
    api_url="http://127.0.0.1:$(cat "$dir/run/api-1.port")"
    service_keys=$(SECPLAT_PASSWORD="$password" python3 - "$api_url" <<'PY'
import json, os, sys, urllib.parse, urllib.request
url = sys.argv[1]
form = urllib.parse.urlencode({"username": "admin", "password": os.environ["SECPLAT_PASSWORD"]}).encode()
token = json.load(urllib.request.urlopen(urllib.request.Request(url + "/auth/login", data=form)))["access_token"]
for name in ("worker", "notifier"):
    req = urllib.request.Request(url + "/auth/api-keys", data=json.dumps({"name": name, "role": "service"}).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    print(json.load(urllib.request.urlopen(req))["key"])
PY
)
    {
      read -r worker_key
      read -r notifier_key
    } <<<"$service_keys"
    (umask 077 && printf 'SECPLAT_WORKER_API_URL=%s\nSECPLAT_WORKER_API_KEY=%s\n' "$api_url" "$worker_key" >"$dir/worker.env")
    (umask 077 && printf 'SECPLAT_NOTIFY_API_URL=%s\nSECPLAT_NOTIFY_API_KEY=%s\n' "$api_url" "$notifier_key" >"$dir/notifier.env")
    for _ in $(seq 1 "$workers"); do start_role worker >/dev/null; done
    start_role ingest >/dev/null
    start_role deriver >/dev/null
    start_role notifier >/dev/null
    start_role correlator >/dev/null
    for f in "$dir"/run/api-*.port; do echo "api: http://127.0.0.1:$(cat "$f")"; done
    echo "admin password: $password"
    echo "environment: $dir/env"
    ;;
  add)
    start_role "${1:?role}"
    ;;
  kill)
    name=${1:?name}
    kill -"${2:-TERM}" "$(cat "$dir/run/$name.pid")"
    ;;
  status)
    for f in "$dir"/run/*.pid; do
      [[ -e $f ]] || continue
      name=$(basename "$f" .pid)
      if running "$(cat "$f")"; then echo "$name running"; else echo "$name stopped"; fi
    done
    ;;
  stop)
    pids=()
    for f in "$dir"/run/*.pid; do
      [[ -e $f ]] || continue
      pid=$(cat "$f")
      if kill -TERM "$pid" 2>/dev/null; then pids+=("$pid"); fi
    done
    for pid in "${pids[@]}"; do
      for _ in $(seq 1 1500); do running "$pid" || break; sleep 0.02; done
      kill -KILL "$pid" 2>/dev/null || true
    done
    "$root/tests/support/redis_test_server.sh" stop "$dir/redis" || true
    "$root/tests/support/pg_test_server.sh" stop "$dir/pg" || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|add|kill|status|stop DIR ..." >&2; exit 2 ;;
esac
