"""Black-box: every process serves Prometheus metrics that `promtool check metrics` accepts.

`secplat serve` (embedded backends) and the roles as separate processes on the test PostgreSQL and
Redis (api, ingest, deriver, worker) do real work — assets probed against a local HTTP target, a
posture job, a directory scan with the secrets scanner — and each process's /metrics is scraped
with a token, linted by promtool, and checked for the series the dashboards and alerts use.
"""
import hashlib
import http.server
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import ADMIN_PASSWORD, BINARY, Server, free_port, pg_schema_url, request, wait_for  # noqa: E402

PROMTOOL = "/usr/bin/promtool"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"unparsable sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    """The value of the one sample of `name` whose labels include `labels`; None when absent."""
    want = set(labels.items())
    hits = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    assert len(hits) <= 1, f"{name}{labels} matches {len(hits)} samples"
    return hits[0] if hits else None


class Target:
    """A loopback HTTP server that answers 200 to every GET."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = b"ok\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


class Role:
    """One `secplat ROLE` process on its own listen port."""

    def __init__(self, role, env, tmp):
        self.role = role
        self.port = free_port()
        self.log_path = os.path.join(tmp, f"{role}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BINARY, role, "--listen", f"127.0.0.1:{self.port}"], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_up(self):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"secplat {self.role} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                return request(self.port, "GET", "/ready").status == 200
            except OSError:
                return False
        wait_for(up, timeout=30, what=f"{self.role} /ready")

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def scrape(port, token):
    r = request(port, "GET", "/metrics", token=token)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.body.decode()


class MetricsEverywhere(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pg_dir = os.environ.get("SECPLAT_TEST_PG_DIR")
        redis_dir = os.environ.get("SECPLAT_TEST_REDIS_DIR")
        if not pg_dir or not redis_dir:
            raise AssertionError("needs the pg and redis fixtures (SECPLAT_TEST_PG_DIR, SECPLAT_TEST_REDIS_DIR)")
        cls.tmp = tempfile.TemporaryDirectory(prefix="secplat-metrics-")
        cls.target = Target()
        cls.dead_url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
        cls.source = os.path.join(cls.tmp.name, "src")
        os.makedirs(cls.source)
        for i in range(5):
            with open(os.path.join(cls.source, f"file{i}.txt"), "w") as f:
                f.write("nothing secret here\n" * 100)

        common = {"SECPLAT_PROBE_ALLOW_PRIVATE": "true", "SECPLAT_POSTURE_TARGET_REFRESH_S": "1",
                  "SECPLAT_POSTURE_SWEEP_INTERVAL_S": "1", "SECPLAT_ALLOWED_SOURCE_ROOTS": cls.tmp.name}
        # `serve` on the embedded backends (SQLite, local queue): one process, every role.
        cls.serve = Server(env={"SECPLAT_DATABASE_URL": "", "SECPLAT_REDIS_URL": "", **common}).start()
        cls.roles = {}
        try:
            data_dir = os.path.join(cls.tmp.name, "cluster-data")
            with open(os.path.join(redis_dir, "url")) as f:
                redis_url = f.read().strip()
            env = dict(os.environ, **common)
            env.pop("SECPLAT_CONFIG", None)
            env.update({
                "SECPLAT_DATABASE_URL": pg_schema_url(pg_dir, data_dir),
                "SECPLAT_REDIS_URL": redis_url,
                "SECPLAT_QUEUE_REDIS_PREFIX": "bbm_" + hashlib.sha256(data_dir.encode()).hexdigest()[:16] + ":",
                "SECPLAT_DATA_DIR": data_dir,
                "SECPLAT_AUTH_JWT_SECRET": secrets.token_hex(32),
                "SECPLAT_ADMIN_PASSWORD": ADMIN_PASSWORD,
            })
            cls.roles["api"] = Role("api", env, cls.tmp.name)
            cls.roles["api"].wait_up()  # it creates the admin user
            for role in ("ingest", "deriver", "worker"):
                cls.roles[role] = Role(role, env, cls.tmp.name)
            for r in cls.roles.values():
                r.wait_up()
        except BaseException:
            cls.tearDownClass()
            raise
        r = request(cls.roles["api"].port, "POST", "/auth/login",
                    form={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status == 200, r
        cls.token = r.json()["access_token"]
        cls.serve_token = cls.serve.token()

    @classmethod
    def tearDownClass(cls):
        for r in getattr(cls, "roles", {}).values():
            r.stop()
        cls.serve.close()
        cls.target.stop()
        cls.tmp.cleanup()

    def api(self, method, path, body=None):
        return request(self.roles["api"].port, method, path, body, token=self.token)

    def create_assets(self, port, token):
        for key, url in (("m-up", self.target.url), ("m-down", self.dead_url)):
            r = request(port, "POST", "/assets/", token=token, body={
                "asset_key": key, "type": "app", "name": key, "environment": "prod",
                "probe": {"url": url, "interval_seconds": 1, "timeout_ms": 1000}})
            self.assertEqual(r.status, 201, r)

    def check_promtool(self, text, who):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, f"{who}: promtool said:\n{p.stdout}{p.stderr}")
        self.assertEqual((p.stdout + p.stderr).strip(), "", f"{who}: promtool lint output")

    def test_roles_expose_clean_metrics_of_their_work(self):
        self.create_assets(self.roles["api"].port, self.token)
        r = self.api("POST", "/jobs", {"job_type": "health_http", "asset_key": "m-up"})
        self.assertEqual(r.status, 201, r)
        job_id = r.json()["job_id"]
        r = self.api("POST", "/v1/security-scans", {
            "workspace_id": "ws-1", "component_id": "metrics-demo", "assessment_id": "a-1",
            "source_type": "directory", "directory_path": self.source,
            "manifest": {"profiles": [{"name": "light", "tools": ["secrets"]}]}})
        self.assertEqual(r.status, 202, r)
        test_id = r.json()["test_id"]

        # The work is visible through the API first (so the metrics below describe finished work).
        wait_for(lambda: self.api("GET", f"/jobs/{job_id}").json()["status"] in ("done", "failed"),
                 timeout=60, interval=0.1, what="the posture job to end")
        self.assertEqual(self.api("GET", f"/jobs/{job_id}").json()["status"], "done")
        wait_for(lambda: self.api("GET", f"/v1/security-scans/{test_id}").json()["status"]
                 in ("SUCCEEDED", "FAILED", "CANCELLED"), timeout=120, interval=0.2, what="the scan to end")
        self.assertEqual(self.api("GET", f"/v1/security-scans/{test_id}").json()["status"], "SUCCEEDED")
        wait_for(lambda: self.api("GET", "/posture/m-up").status == 200, timeout=30, interval=0.1,
                 what="m-up derived")

        # Metrics of each role, once its counters show the work.
        ingest, deriver, worker, api = (self.roles[n].port for n in ("ingest", "deriver", "worker", "api"))
        wait_for(lambda: (value(parse(scrape(ingest, self.token)), "secplat_probe_failures_total",
                                asset="m-down", reason="connect") or 0) > 0,
                 timeout=30, interval=0.2, what="ingest metrics to count the failed probes")
        wait_for(lambda: (value(parse(scrape(deriver, self.token)), "secplat_derive_events_total") or 0) > 0,
                 timeout=30, interval=0.2, what="deriver metrics to count events")

        for name, role in self.roles.items():
            text = scrape(role.port, self.token)
            self.check_promtool(text, name)
            s = parse(text)
            self.assertEqual(value(s, "secplat_build_info", role=name), 1, name)
            self.assertIsNotNone(value(s, "secplat_queue_lag", stream="secplat.jobs.scan", group="workers"), name)
            self.assertIsNotNone(value(s, "secplat_queue_length", stream="secplat.jobs.scan"), name)
            # Unauthenticated scrapes are refused on every process, roles included.
            self.assertEqual(request(role.port, "GET", "/metrics").status, 401, name)
            self.assertEqual(request(role.port, "GET", "/metrics", token="not-a-token").status, 401, name)
            # A role process serves health and metrics only.
            if name != "api":
                self.assertEqual(request(role.port, "GET", "/health").status, 200, name)
                self.assertEqual(request(role.port, "GET", "/assets/", token=self.token).status, 404, name)

        s = parse(scrape(ingest, self.token))
        self.assertGreater(value(s, "secplat_probes_total", asset="m-up", result="up"), 0)
        self.assertGreater(value(s, "secplat_probes_total", asset="m-down", result="down"), 0)
        self.assertEqual(value(s, "secplat_probes_total", asset="m-up", result="down"), 0)
        self.assertGreater(value(s, "secplat_probe_duration_seconds_count"), 0)
        latency = value(s, "secplat_probe_latency_seconds", asset="m-up")
        self.assertTrue(0 <= latency < 1, latency)

        s = parse(scrape(deriver, self.token))
        self.assertGreater(value(s, "secplat_derive_batches_total"), 0)
        self.assertGreater(value(s, "secplat_derive_lag_seconds_count"), 0)
        self.assertGreaterEqual(value(s, "secplat_derive_lag_seconds_sum"), 0)

        s = parse(scrape(worker, self.token))
        self.assertEqual(value(s, "secplat_job_duration_seconds_count", type="health_http", outcome="succeeded"), 1)
        self.assertEqual(value(s, "secplat_job_duration_seconds_count", type="security_scan", outcome="succeeded"), 1)
        self.assertEqual(value(s, "secplat_scans_total", status="succeeded"), 1)
        self.assertGreaterEqual(value(s, "secplat_scanner_duration_seconds_count", scanner="secrets"), 1)
        self.assertEqual(value(s, "secplat_scanner_files_total", scanner="secrets"), 5)
        self.assertEqual(value(s, "secplat_scanner_bytes_total", scanner="secrets"), 5 * 2000)
        # Probing and deriving happen in their own processes, not here.
        self.assertEqual(value(s, "secplat_probe_duration_seconds_count") or 0, 0)

        s = parse(scrape(api, self.token))
        job_reads = [v for (n, ls), v in s.items() if n == "secplat_http_requests_total" and
                     {("method", "GET"), ("status", "200")} <= set(ls) and dict(ls)["route"].startswith("/jobs/{")]
        self.assertTrue(job_reads and sum(job_reads) > 0, job_reads)
        # The scan queue was drained by the worker: nothing left undelivered.
        self.assertEqual(value(s, "secplat_queue_lag", stream="secplat.jobs.scan", group="workers"), 0)

    def test_serve_exposes_every_role_on_the_embedded_backends(self):
        self.create_assets(self.serve.port, self.serve_token)
        wait_for(lambda: (value(parse(scrape(self.serve.port, self.serve_token)), "secplat_probes_total",
                                asset="m-up", result="up") or 0) > 0,
                 timeout=30, interval=0.2, what="serve to count probes")
        wait_for(lambda: (value(parse(scrape(self.serve.port, self.serve_token)), "secplat_derive_events_total")
                          or 0) > 0, timeout=30, interval=0.2, what="serve to count derived events")
        text = scrape(self.serve.port, self.serve_token)
        self.check_promtool(text, "serve")
        s = parse(text)
        self.assertEqual(value(s, "secplat_build_info", role="serve"), 1)
        self.assertEqual(value(s, "secplat_queue_lag", stream="secplat.jobs.scan", group="workers"), 0)
        self.assertIsNotNone(value(s, "secplat_queue_lag", stream="secplat.jobs.derive", group="derivers"))
        self.assertEqual(request(self.serve.port, "GET", "/metrics").status, 401)


if __name__ == "__main__":
    unittest.main(verbosity=2)
