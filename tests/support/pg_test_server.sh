#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests, on 127.0.0.1 and a free port, data in DIR (a tmpfs-like
# setup: fsync off). `start` writes the connection URL to DIR/url; `stop` shuts it down and
# removes DIR. PostgreSQL refuses to run as root, so as root the server runs as `postgres`.
#
# `pause` stops the server but keeps its data, `resume` starts it again on the same port (for
# failure tests).
#
# usage: tests/support/pg_test_server.sh start|stop|pause|resume DIR
set -euo pipefail
cmd=${1:?start|stop|pause|resume}
dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bin/initdb" ]] || { echo "PostgreSQL server binaries not found (install postgresql-15)" >&2; exit 1; }
as_owner=()
if [[ $(id -u) -eq 0 ]]; then as_owner=(runuser -u postgres --); fi

pg_start() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $1 -k $dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
}

case "$cmd" in
  start)
    if [[ -f "$dir/url" ]] && "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      exit 0  # already running (a previous start in this build tree)
    fi
    rm -rf "$dir"
    mkdir -p "$dir/data" "$dir/sock"
    chmod 700 "$dir/data"
    if [[ $(id -u) -eq 0 ]]; then chown -R postgres:postgres "$dir"; fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    pg_start "$port"
    echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/url"
    ;;
  pause)
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
    ;;
  resume)
    port=$(sed -E 's#.*:([0-9]+)/.*#\1#' "$dir/url")
    pg_start "$port"
    ;;
  stop)
    if [[ -d "$dir/data" ]]; then
      "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop|pause|resume DIR" >&2; exit 2 ;;
esac
