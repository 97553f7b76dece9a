"""Black-box: the roles as separate processes (scripts/local-cluster.sh: PostgreSQL, Redis, two API
replicas, workers, ingest, deriver), and how they fail:

* a WebSocket client on one API replica sees every event of a scan submitted on the other and run
  by whichever worker took it;
* workers are killed with SIGKILL in the middle of scans, over a couple of hundred scans: every
  scan is reclaimed and completes exactly once, nothing is lost, no finding is duplicated;
* the deriver stopped: the API keeps serving the last posture; restarted, it catches up;
* the correlator and the notifier stopped: their streams' backlog grows, the API keeps answering
  without waiting for them; restarted, they drain it;
* the notifier runs without database credentials: its delivery records go through the API with a
  service API key, and each incident message reaches the webhook once;
* a role without PostgreSQL and Redis refuses to start and says why.
"""
import asyncio
import fcntl
import http.server
import json
import os
import random
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import websockets

sys.path.insert(0, os.path.dirname(__file__))
from harness import BINARY, request, wait_for  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CLUSTER = os.path.join(ROOT, "scripts", "local-cluster.sh")
PASSWORD = "cluster-test-password-1"
SCANS = 200
TOOL_SECONDS = 0.6

# A stand-in for trivy that takes a while, so a killed worker dies in the middle of a scan.
FAKE_TRIVY = f"""#!/bin/sh
case "$1" in --version|version) echo "Version: 0.50.1"; exit 0;; esac
out=""
while [ $# -gt 0 ]; do [ "$1" = "--output" ] && out="$2"; shift; done
sleep {TOOL_SECONDS}
printf '%s' '{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"Trivy","rules":[]}}}},"results":[]}}]}}' > "$out"
"""


class Cluster:
    def __init__(self, env):
        self.dir = tempfile.mkdtemp(prefix="secplat-cluster-", dir="/tmp")
        os.rmdir(self.dir)  # the script creates it
        self.env = dict(os.environ, SECPLAT_BINARY=os.path.abspath(BINARY), SECPLAT_ADMIN_PASSWORD=PASSWORD, **env)
        self.env.pop("SECPLAT_CONFIG", None)

    def run(self, *args):
        return subprocess.run([CLUSTER, args[0], self.dir, *args[1:]], env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def port(self, name):
        with open(os.path.join(self.dir, "run", f"{name}.port")) as f:
            return int(f.read())

    def alive(self, role):
        return [name for name, state in self.states(role) if state == "running"]

    def names(self, role):
        return [name for name, _ in self.states(role)]

    def states(self, role):
        out = self.run("status")
        return [tuple(line.split()) for line in out.splitlines() if line.startswith(role + "-")]

    def log(self, name):
        with open(os.path.join(self.dir, "logs", f"{name}.log"), errors="replace") as f:
            return f.read()


class Api:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, token=None, form=None, timeout=15):
        return request(self.port, method, path, body, token=token, form=form, timeout=timeout)

    def token(self):
        r = self.request("POST", "/auth/login", form={"username": "admin", "password": PASSWORD})
        assert r.status == 200, r
        return r.json()["access_token"]


async def watch(port, test_id, token, since=None, timeout=60, lags=None):
    url = f"ws://127.0.0.1:{port}/v1/security-scans/{test_id}/stream?access_token={token}"
    if since is not None:
        url += f"&since={since}"
    events = []
    async with websockets.connect(url, open_timeout=10, max_size=None) as ws:
        try:
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                if lags is not None:
                    lags.append(time.time() - event["timestamp"])
                events.append(event)
        except websockets.ConnectionClosed:
            return events


class Target:
    """A health endpoint the prober can reach (up until stopped)."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/health"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Webhook:
    """The generic webhook channel's receiver: keeps every JSON body posted to it."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="secplat-cluster-src-")
        tools = os.path.join(cls.tmp.name, "tools")
        os.makedirs(tools)
        trivy = os.path.join(tools, "trivy")
        with open(trivy, "w") as f:
            f.write(FAKE_TRIVY)
        os.chmod(trivy, stat.S_IRWXU)
        cls.src = os.path.join(cls.tmp.name, "src")
        os.makedirs(cls.src)
        # The processes' temporary directories (scan checkouts, tool work dirs), watched below.
        cls.scratch = os.path.join(cls.tmp.name, "scratch")
        os.makedirs(cls.scratch)
        # Built at run time so this file holds no credential-shaped literal.
        with open(os.path.join(cls.src, "settings.py"), "w") as f:
            f.write('AWS_ACCESS_KEY_ID = "' + "AKIA" + "QYLPMN5HHHFPZAM2" + '"\n')
        cls.webhook = Webhook()
        cls.cluster = Cluster({
            "SECPLAT_WEBHOOK_URL": cls.webhook.url,
            "SECPLAT_NOTIFY_RATE_LIMIT_PER_MINUTE": "100000",
            "PATH": tools + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
            "TMPDIR": cls.scratch,
            "SECPLAT_ALLOWED_SOURCE_ROOTS": cls.tmp.name,
            # A killed worker's scans are reclaimed after 3 s (its lease: 3 s, renewed every second).
            "SECPLAT_QUEUE_VISIBILITY_TIMEOUT_MS": "3000",
            "SECPLAT_QUEUE_BACKOFF_BASE_MS": "200",
            "SECPLAT_QUEUE_BACKOFF_MAX_MS": "1000",
            "SECPLAT_ASSURANCE_MAX_CONCURRENT_SCANS": "3",
            "SECPLAT_PROBE_ALLOW_PRIVATE": "true",
            "SECPLAT_POSTURE_SWEEP_INTERVAL_S": "1",
            "SECPLAT_POSTURE_TARGET_REFRESH_S": "1",
        })
        try:
            cls.cluster.run("start", "--workers", "3", "--apis", "2")
        except subprocess.CalledProcessError as e:
            raise AssertionError(f"cluster did not start:\n{e.stdout}\n{e.stderr}")
        cls.api1 = Api(cls.cluster.port("api-1"))
        cls.api2 = Api(cls.cluster.port("api-2"))
        cls.token = cls.api1.token()

    @classmethod
    def tearDownClass(cls):
        subprocess.run([CLUSTER, "stop", cls.cluster.dir], env=cls.cluster.env, check=False, capture_output=True)
        cls.webhook.stop()
        cls.tmp.cleanup()

    def submit(self, api=None, component="cluster-demo"):
        r = (api or self.api1).request("POST", "/v1/security-scans", token=self.token, body={
            "workspace_id": "ws-1", "component_id": component, "assessment_id": "a-1",
            "source_type": "directory", "directory_path": self.src,
            "manifest": {"profiles": [{"name": "light", "tools": ["secrets", "trivy"]}]}})
        self.assertEqual(r.status, 202, r)
        return r.json()["test_id"]

    def environ_of(self, name):
        with open(os.path.join(self.cluster.dir, "run", f"{name}.pid")) as f:
            with open(f"/proc/{int(f.read())}/environ", "rb") as e:
                return e.read().split(b"\0")

    def scan(self, test_id, api=None):
        r = (api or self.api1).request("GET", f"/v1/security-scans/{test_id}", token=self.token)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_1_websocket_on_any_replica_sees_every_event(self):
        test_id = self.submit(self.api1)
        lags = []
        live = asyncio.run(watch(self.api2.port, test_id, self.token, lags=lags))
        seqs = [e["seq"] for e in live]
        self.assertEqual(seqs, list(range(1, len(live) + 1)), "gaps or duplicates in the live stream")
        self.assertEqual(live[-1]["type"], "scan_complete")
        self.assertEqual(live[-1]["status"], "SUCCEEDED", live[-1])
        self.assertTrue(any(e["type"] == "log" for e in live), live)
        # The live stream is the stored one, event for event, on either replica.
        for api in (self.api1, self.api2):
            self.assertEqual(asyncio.run(watch(api.port, test_id, self.token, since=0)), live)
        self.assertEqual(self.scan(test_id, self.api2)["status"], "SUCCEEDED")
        print(f"[ cluster ] {len(live)} events across replicas, worst lag {max(lags) * 1000:.0f} ms")

    def test_2_killed_workers_lose_no_scan_and_duplicate_nothing(self):
        ids = [self.submit(random.choice((self.api1, self.api2)), component="chaos") for _ in range(SCANS)]
        kills = 0
        killed = set()
        deadline = time.monotonic() + 240
        rng = random.Random(7)

        def unfinished():
            return [i for i in ids if self.scan(i)["status"] not in ("SUCCEEDED", "FAILED", "CANCELLED")]

        # SIGKILL a random worker every ~1.5 s (and start a fresh one) while scans are running.
        while time.monotonic() < deadline and kills < 12 and unfinished():
            time.sleep(1.0 + rng.random())
            workers = self.cluster.alive("worker")
            if len(workers) < 2:
                continue
            victim = rng.choice(workers)
            self.cluster.run("kill", victim, "KILL")
            killed.add(victim)
            self.cluster.run("add", "worker")
            kills += 1
        wait_for(lambda: not unfinished(), timeout=max(30, deadline - time.monotonic()), interval=0.5,
                 what="every scan to finish")
        self.assertGreaterEqual(kills, 3, "the scans finished before the chaos got going")
        # Only the killed workers are gone: no worker died on its own.
        for name in self.cluster.names("worker"):
            if name not in killed:
                self.assertIn(name, self.cluster.alive("worker"), f"{name} died:\n{self.cluster.log(name)[-3000:]}")

        statuses = {}
        resumed = 0
        for i in ids:
            s = self.scan(i)
            statuses[s["status"]] = statuses.get(s["status"], 0) + 1
            events = asyncio.run(watch(self.api1.port, i, self.token, since=0))
            self.assertEqual([e["seq"] for e in events], list(range(1, len(events) + 1)), i)
            self.assertEqual([e["type"] for e in events].count("scan_complete"), 1, i)
            if any("stopped responding" in e.get("line", "") for e in events):
                resumed += 1
        self.assertEqual(statuses, {"SUCCEEDED": SCANS}, "every scan completes once, none fails")
        self.assertGreater(resumed, 0, "no kill hit a running scan: the test proved nothing")
        # A worker killed mid-scan cannot clean up its checkout and tool work dirs; the next secplat
        # process to start removes them. Every kill here was followed by a start.
        owned, dead = [], []
        for d in os.listdir(self.scratch):
            self.assertTrue(d.startswith("secplat-work-"), f"{d} outside a process's scratch directory")
            fd = os.open(os.path.join(self.scratch, d, ".owner"), os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                dead.append(d)
            except BlockingIOError:
                owned.append(d)
            finally:
                os.close(fd)
        self.assertEqual(dead, [], "scratch directories of killed workers were left behind")
        self.assertGreaterEqual(len(owned), len(self.cluster.alive("worker")))
        print(f"[ cluster ] {SCANS} scans, {kills} workers killed, {resumed} scans resumed by another worker")

        # The workers hold no database credentials: scan state, logs and findings went through the
        # API with their service key.
        for name in self.cluster.alive("worker"):
            environ = self.environ_of(name)
            self.assertFalse([v for v in environ if v.startswith(b"SECPLAT_DATABASE_URL=")], name)
            self.assertTrue([v for v in environ if v.startswith(b"SECPLAT_WORKER_API_KEY=spk_")], name)

        # One finding for the planted key, however many scans and re-runs reported it.
        findings = self.api1.request("GET", "/findings/?asset_key=chaos&limit=500", token=self.token)
        self.assertEqual(findings.status, 200, findings)
        body = findings.json()
        items = body["items"] if isinstance(body, dict) else body
        self.assertEqual(len(items), 1, items)

        # Nothing left pending or dead-lettered.
        health = self.api1.request("GET", "/queue/health", token=self.token).json()
        self.assertEqual(health["dlq_streams"]["secplat.jobs.scan.dlq"], 0, health)
        pending = health["pending"]["secplat.jobs.scan"]["workers"]["pending"]
        self.assertEqual(pending, 0, health)

    def test_3_deriver_stopped_keeps_the_last_posture_and_catches_up(self):
        target = Target()
        r = self.api1.request("POST", "/assets/", token=self.token, body={
            "asset_key": "svc-cluster", "type": "app", "name": "svc", "environment": "prod",
            "probe": {"url": target.url, "interval_seconds": 1}})
        self.assertEqual(r.status, 201, r)

        def posture():
            r = self.api2.request("GET", "/posture/svc-cluster", token=self.token)
            return r.json() if r.status == 200 else None

        wait_for(lambda: (posture() or {}).get("status") == "green", timeout=30, interval=0.2, what="green")
        for name in self.cluster.alive("deriver"):
            self.cluster.run("kill", name, "TERM")
        wait_for(lambda: not self.cluster.alive("deriver"), timeout=30, what="the deriver to stop")
        target.stop()
        time.sleep(4)  # the prober records the target down; nobody derives it
        p = posture()
        self.assertIsNotNone(p)
        self.assertEqual(p["status"], "green", "the API serves the last derived posture")
        self.cluster.run("add", "deriver")
        wait_for(lambda: (posture() or {}).get("status") == "red", timeout=30, interval=0.2,
                 what="the restarted deriver to catch up")

    def test_5_correlator_and_notifier_stopped_the_api_does_not_wait(self):
        r = self.api1.request("POST", "/assets/", token=self.token, body={
            "asset_key": "corr-stopped", "type": "app", "name": "corr", "environment": "prod"})
        self.assertEqual(r.status, 201, r)

        def lag(stream, group):
            r = self.api2.request("GET", "/queue/health", token=self.token)
            self.assertEqual(r.status, 200, r)
            return r.json()["pending"][stream][group]["lag"]

        def timed(n):
            took = []
            for _ in range(n):
                t0 = time.monotonic()
                r = self.api1.request("GET", "/posture/summary", token=self.token)
                took.append(time.monotonic() - t0)
                self.assertEqual(r.status, 200, r)
            return sorted(took)

        before = timed(40)
        for role in ("correlator", "notifier"):
            for name in self.cluster.alive(role):
                self.cluster.run("kill", name, "TERM")
        wait_for(lambda: not self.cluster.alive("correlator") and not self.cluster.alive("notifier"), timeout=30,
                 what="the correlator and the notifier to stop")
        correlation_lag = lag("secplat.events.correlation", "correlators")
        # Serious findings are correlation events: nobody consumes them now.
        for i in range(20):
            r = self.api1.request("POST", "/findings/", token=self.token, body={
                "asset_key": "corr-stopped", "finding_key": f"stopped-{i}", "title": "Exposed admin console",
                "severity": "high"})
            self.assertEqual(r.status, 201, r)
        self.assertGreaterEqual(lag("secplat.events.correlation", "correlators"), correlation_lag + 20)
        during = timed(40)
        print(f"[ cluster ] /posture/summary median {before[20] * 1000:.1f} ms with the correlator and notifier up, "
              f"{during[20] * 1000:.1f} ms with both stopped and their backlog growing")
        # The API never waits on them: no request took long (figures belong in bench/, this is a bound).
        self.assertLess(during[-1], 2.0, during)

        notify_lag = lag("secplat.events.notify", "notifiers")
        self.cluster.run("add", "correlator")
        wait_for(lambda: lag("secplat.events.correlation", "correlators") == 0, timeout=60, interval=0.3,
                 what="the restarted correlator to drain its backlog")
        # Each finding opened an incident, whose message now waits for the notifier.
        wait_for(lambda: lag("secplat.events.notify", "notifiers") >= notify_lag + 20, timeout=30, interval=0.3,
                 what="incident messages queued for the stopped notifier")
        self.cluster.run("add", "notifier")
        wait_for(lambda: lag("secplat.events.notify", "notifiers") == 0, timeout=60, interval=0.3,
                 what="the restarted notifier to drain its backlog")

        # The notifier has no database URL; what it sent is recorded through the API (service key)
        # in PostgreSQL, where either API replica lists it, and every message reached the webhook once.
        [notifier] = self.cluster.alive("notifier")
        environ = self.environ_of(notifier)
        self.assertFalse([v for v in environ if v.startswith(b"SECPLAT_DATABASE_URL=")])
        self.assertTrue([v for v in environ if v.startswith(b"SECPLAT_NOTIFY_API_KEY=spk_")])
        about = [b for b in self.webhook.bodies if b.get("asset_key") == "corr-stopped"]
        self.assertGreaterEqual(len(about), 1, self.webhook.bodies[-5:])
        keys = [b["dedupe_key"] for b in about]
        self.assertEqual(len(keys), len(set(keys)), keys)  # no message twice
        r = self.api2.request("GET", "/notifications?channel=webhook&status=sent&limit=1000", token=self.token)
        self.assertEqual(r.status, 200, r)
        sent = {d["dedupe_key"] for d in r.json()["items"]}
        self.assertTrue(set(keys) <= sent, (keys, sent))
        self.assertIn('"api"', self.cluster.log(notifier))

    def test_4_a_role_without_postgres_and_redis_refuses_to_start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SECPLAT_")}
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([BINARY, "worker", "--data-dir", d], env=env, capture_output=True, text=True,
                               timeout=30)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("SECPLAT_DATABASE_URL", r.stderr)
        self.assertIn("secplat serve", r.stderr)
        # A notifier without a database still needs Redis, and says so.
        env.update(SECPLAT_NOTIFY_API_URL="http://127.0.0.1:9", SECPLAT_NOTIFY_API_KEY="spk_x")
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([BINARY, "notifier", "--data-dir", d], env=env, capture_output=True, text=True,
                               timeout=30)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("SECPLAT_REDIS_URL", r.stderr)
        # Nor does a worker without a database.
        env = {k: v for k, v in env.items() if not k.startswith("SECPLAT_NOTIFY_")}
        env.update(SECPLAT_WORKER_API_URL="http://127.0.0.1:9", SECPLAT_WORKER_API_KEY="spk_x")
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([BINARY, "worker", "--data-dir", d], env=env, capture_output=True, text=True,
                               timeout=30)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("SECPLAT_REDIS_URL", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
