"""Black-box harness: starts the real `secplat` binary on a free loopback port with a temporary
data dir, and talks to it over HTTP like any client would. Standard library only."""
import http.client
import http.server
import hashlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

BINARY = os.environ.get("SECPLAT_BINARY", "build/secplat")


class Switch:
    """A loopback HTTP target the prober can reach, whose health a test flips (200 / 503)."""

    def __init__(self):
        self.healthy = True
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200 if target.healthy else 503)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/health"
ADMIN_PASSWORD = "admin-test-password-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def request(port, method, path, body=None, headers=None, token=None, form=None, timeout=10):
    """One HTTP request to 127.0.0.1:port; a JSON body for dicts and lists, a form for `form`."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body
    if form is not None:
        data = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None and not isinstance(body, (bytes, str)):
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def pg_schema_url(pg_dir, data_dir):
    """The test PostgreSQL (tests/support/pg_test_server.sh) with a schema of its own per data
    directory, so every server a test starts sees a fresh database, and a restart the same one."""
    with open(os.path.join(pg_dir, "url")) as f:
        url = f.read().strip()
    schema = "bb_" + hashlib.sha256(data_dir.encode()).hexdigest()[:16]
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", f"CREATE SCHEMA IF NOT EXISTS {schema}"],
                   check=True, capture_output=True)
    return f"{url}?options=-c%20search_path%3D{schema}"


class Server:
    def __init__(self, env=None, args=None, data_dir=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="secplat-bb-")
        self.data_dir = data_dir or os.path.join(self.tmp.name, "data")
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.pop("SECPLAT_CONFIG", None)
        self.env.update({"SECPLAT_ADMIN_PASSWORD": ADMIN_PASSWORD, "SECPLAT_LOG_LEVEL": "info"})
        self.env.update(env or {})
        pg_dir = os.environ.get("SECPLAT_TEST_PG_DIR")
        if pg_dir and "SECPLAT_DATABASE_URL" not in (env or {}):
            self.env["SECPLAT_DATABASE_URL"] = pg_schema_url(pg_dir, self.data_dir)
        redis_dir = os.environ.get("SECPLAT_TEST_REDIS_DIR")
        if redis_dir and "SECPLAT_REDIS_URL" not in (env or {}):
            # The shared test Redis, with keys of its own per data directory (like the schema).
            with open(os.path.join(redis_dir, "url")) as f:
                self.env["SECPLAT_REDIS_URL"] = f.read().strip()
            self.env["SECPLAT_QUEUE_REDIS_PREFIX"] = "bb_" + hashlib.sha256(self.data_dir.encode()).hexdigest()[:16] + ":"
        self.args = args or []
        self.proc = None
        self.log_path = os.path.join(self.tmp.name, "server.log")

    def start(self, wait_ready=True):
        if getattr(self, "log", None):
            self.log.close()
        self.log = open(self.log_path, "wb")
        cmd = [BINARY, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir] + self.args
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        if wait_ready:
            wait_for(self._ready, timeout=20, what="/ready")
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"secplat exited with {self.proc.returncode}:\n{self.output()}")
        try:
            return self.request("GET", "/ready").status == 200
        except OSError:
            return False

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("secplat did not stop within %ss of SIGTERM" % timeout)
        return self.proc.returncode if self.proc else None

    def close(self):
        try:
            self.stop()
        finally:
            if getattr(self, "log", None):
                self.log.close()
            self.tmp.cleanup()

    def connection(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, token=None, form=None, timeout=10):
        return request(self.port, method, path, body, headers, token, form, timeout)

    def login(self, username="admin", password=ADMIN_PASSWORD):
        r = self.request("POST", "/auth/login", form={"username": username, "password": password})
        assert r.status == 200, r
        return r.json()

    def token(self, username="admin", password=ADMIN_PASSWORD):
        return self.login(username, password)["access_token"]
