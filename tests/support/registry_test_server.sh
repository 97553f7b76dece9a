#!/usr/bin/env bash
# A throwaway OCI registry (Debian's docker-registry, distribution 2.8) for the tests: plain HTTP on
# 127.0.0.1 and a free port, filesystem storage under DIR. `start` writes the base URL
# (http://127.0.0.1:PORT) to DIR/url once /v2/ answers; `stop` kills it and removes DIR.
# With --htpasswd USER PASS the registry requires HTTP basic auth (bcrypt htpasswd file).
# With --token USER PASS it requires bearer tokens (the registry token flow): a small token service
# (python3 + openssl, on another free port) checks USER/PASS by basic auth and issues RS256 JWTs
# that the registry verifies against a throwaway certificate; it counts its tokens in DIR/tokens.
#
# usage: tests/support/registry_test_server.sh start|stop DIR [--htpasswd|--token USER PASS]
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
command -v docker-registry >/dev/null || { echo "docker-registry not found (install docker-registry)" >&2; exit 1; }

running() { [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The token service: GET /token?service=S&scope=repository:NAME:ACTIONS with basic auth -> JWT
# granting the requested actions, signed by DIR/token.key with the certificate in its x5c header.
token_service() {
  cat >"$dir/token_service.py" <<'PY'
import base64, json, os, subprocess, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlparse, parse_qs
port, user, password, d = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
pem = open(os.path.join(d, "token.crt")).read()
der = base64.b64decode("".join(l for l in pem.splitlines() if "CERTIFICATE" not in l))
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        u = urlparse(self.path)
        want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if u.path != "/token" or self.headers.get("Authorization") != want:
            self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers(); return
        q = parse_qs(u.query)
        access = []
        for scope in q.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        claims = {"iss": "secplat-test-issuer", "sub": user, "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(d, "token.key")],
                             input=signing_input.encode(), capture_output=True, check=True).stdout
        body = json.dumps({"token": signing_input + "." + b64u(sig), "expires_in": 300}).encode()
        with open(os.path.join(d, "tokens"), "a") as f: f.write("x\n")
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
  setsid python3 "$dir/token_service.py" "$1" "$2" "$3" "$dir" </dev/null >"$dir/token.log" 2>&1 &
  echo $! >"$dir/token.pid"
  for _ in $(seq 1 250); do port_open "$1" && return 0; sleep 0.02; done
  cat "$dir/token.log" >&2
  exit 1
}

case "$cmd" in
  start)
    if [[ -f "$dir/url" ]] && running; then exit 0; fi
    rm -rf "$dir"
    mkdir -p "$dir/data"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    auth=""
    if [[ "${3:-}" == "--htpasswd" ]]; then
      user=${4:?user}; pass=${5:?password}
      command -v htpasswd >/dev/null || { echo "htpasswd not found (install apache2-utils)" >&2; exit 1; }
      htpasswd -Bbc "$dir/htpasswd" "$user" "$pass" 2>/dev/null
      auth="auth:
  htpasswd:
    realm: secplat-test
    path: $dir/htpasswd"
    elif [[ "${3:-}" == "--token" ]]; then
      user=${4:?user}; pass=${5:?password}
      openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/token.key" -out "$dir/token.crt" \
        -subj /CN=secplat-test-token -days 2 >/dev/null 2>&1
      tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      token_service "$tport" "$user" "$pass"
      auth="auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: secplat-test-registry
    issuer: secplat-test-issuer
    rootcertbundle: $dir/token.crt"
    fi
    cat >"$dir/config.yml" <<YML
version: 0.1
log:
  level: warn
  formatter: text
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: secplat-test-$(python3 -c 'import secrets; print(secrets.token_hex(8))')
$auth
YML
    # setsid + no inherited stdout: ctest does not wait on the server's output pipe.
    setsid docker-registry serve "$dir/config.yml" </dev/null >"$dir/registry.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 1 250); do
      # 200 without auth, 401 with: either way the API answers.
      code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true)
      if [[ "$code" == 200 || "$code" == 401 ]]; then
        echo "http://127.0.0.1:$port" >"$dir/url"
        exit 0
      fi
      running || break
      sleep 0.02
    done
    cat "$dir/registry.log" >&2
    exit 1
    ;;
  stop)
    if [[ -f "$dir/token.pid" ]]; then kill "$(cat "$dir/token.pid")" 2>/dev/null || true; fi
    if running; then
      pid=$(cat "$dir/pid")
      port=$(sed -E 's#.*:([0-9]+)$#\1#' "$dir/url" 2>/dev/null || true)
      kill "$pid" 2>/dev/null || true
      # A killed child may linger as a zombie (PID 1 need not reap it): wait for the port instead.
      for _ in $(seq 1 250); do
        if [[ -n "$port" ]] && ! port_open "$port"; then break; fi
        [[ -z "$port" ]] && ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.02
      done
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR [--htpasswd|--token USER PASS]" >&2; exit 2 ;;
esac
