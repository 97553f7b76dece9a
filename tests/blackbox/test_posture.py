"""Black-box test of the posture platform: `secplat serve` probes a few local HTTP servers (one up,
one that stops, one flapping, one slow, one forbidden by the SSRF guard) and the posture API shows
each asset in the right state within a few probe intervals, with the reference fields and ours."""
import http.server
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BINARY, Server, wait_for  # noqa: E402

INTERVAL = 1  # seconds between probes of every target


class Target:
    """A tiny HTTP server on a free loopback port; `behaviour(n)` decides each answer."""

    def __init__(self, behaviour):
        self.count = 0
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                target.count += 1
                answer = behaviour(target.count, self.path)
                status, delay = answer[0], answer[1]
                body = answer[2] if len(answer) > 2 else b"ok service-alive\n"
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/health"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class PostureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = Target(lambda n, path: (200, 0))
        cls.stopper = Target(lambda n, path: (200, 0))
        cls.flapper = Target(lambda n, path: (200 if n % 2 else 500, 0))
        cls.slow = Target(lambda n, path: (200, 3))
        cls.server = Server(env={
            "SECPLAT_PROBE_ALLOW_PRIVATE": "true",
            "SECPLAT_POSTURE_SWEEP_INTERVAL_S": "1",
            "SECPLAT_POSTURE_TARGET_REFRESH_S": "1",
        }).start()
        cls.token = cls.server.token()
        for key, url, extra in [("svc-up", cls.up.url, {"keyword": "service-alive"}),
                                ("svc-stopper", cls.stopper.url, {}),
                                ("svc-flapper", cls.flapper.url, {}),
                                ("svc-slow", cls.slow.url, {"timeout_ms": 500}),
                                ("svc-metadata", "http://169.254.169.254/latest/meta-data/", {})]:
            probe = {"url": url, "interval_seconds": INTERVAL, **extra}
            r = cls.server.request("POST", "/assets/", token=cls.token, body={
                "asset_key": key, "type": "app", "name": key, "environment": "prod",
                "criticality": "high", "owner": "team-a", "probe": probe})
            assert r.status == 201, r
        r = cls.server.request("POST", "/assets/", token=cls.token, body={
            "asset_key": "svc-unprobed", "type": "app", "name": "unprobed", "environment": "dev"})
        assert r.status == 201, r

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        for t in (cls.up, cls.flapper, cls.slow):
            t.stop()

    def get(self, path, status=200):
        r = self.server.request("GET", path, token=self.token)
        self.assertEqual(r.status, status, r)
        return r

    def posture(self, key):
        r = self.server.request("GET", f"/posture/{key}", token=self.token)
        return r.json() if r.status == 200 else None

    def wait_state(self, key, predicate, what, timeout=8 * INTERVAL + 10):
        return wait_for(lambda: (lambda p: p if p and predicate(p) else None)(self.posture(key)),
                        timeout=timeout, interval=0.1, what=f"{key}: {what}")

    def test_1_up_target_is_green_with_reference_and_new_fields(self):
        p = self.wait_state("svc-up", lambda p: p["status"] == "green", "green")
        for field in ("asset_id", "status", "last_seen", "reason", "criticality", "name", "owner", "environment",
                      "posture_score", "staleness_seconds", "last_status_change", "flapping", "confidence",
                      "previous_status", "last_good_at"):
            self.assertIn(field, p)
        self.assertEqual(p["health_status"], "up")
        self.assertEqual(p["posture_score"], 100)
        self.assertIsNone(p["reason"])
        self.assertEqual(p["code"], 200)
        self.assertFalse(p["flapping"])
        self.assertIsNotNone(p["last_good_at"])
        self.assertIsNotNone(p["last_status_change"])
        self.assertEqual(p["previous_status"], "unknown")
        self.assertEqual(p["criticality"], "high")
        wait_for(lambda: self.posture("svc-up")["confidence"] >= 0.5, timeout=15, what="confidence builds up")

    def test_2_stopped_target_goes_red_within_two_intervals(self):
        self.wait_state("svc-stopper", lambda p: p["status"] == "green", "green first")
        stopped_at = time.monotonic()
        self.stopper.stop()
        p = self.wait_state("svc-stopper", lambda p: p["status"] == "red", "red after stop")
        elapsed = time.monotonic() - stopped_at
        # Two probe intervals for the debounce, plus scheduling jitter and the derive pass.
        self.assertLess(elapsed, 2 * INTERVAL + 3, f"went red after {elapsed:.1f}s")
        self.assertEqual(p["health_status"], "down")
        self.assertEqual(p["reason"], "port_closed")
        self.assertEqual(p["error_class"], "refused")
        self.assertEqual(p["previous_status"], "up")
        self.assertEqual(p["posture_score"], 0)
        self.assertIsNotNone(p["last_good_at"])  # the last good result is kept

    def test_3_flapping_target_is_its_own_amber_class(self):
        p = self.wait_state("svc-flapper", lambda p: p["flapping"], "flapping", timeout=20)
        self.assertEqual(p["status"], "amber")
        self.assertEqual(p["reason"], "flapping")
        self.assertEqual(p["posture_score"], 60)
        self.assertLess(p["confidence"], 0.8)

    def test_4_slow_target_times_out(self):
        p = self.wait_state("svc-slow", lambda p: p["status"] == "red", "red")
        self.assertEqual(p["reason"], "api_timeout")
        self.assertEqual(p["error_class"], "timeout")

    def test_5_metadata_address_is_refused_by_the_ssrf_guard(self):
        p = self.wait_state("svc-metadata", lambda p: p["status"] == "red", "red")
        self.assertEqual(p["error_class"], "forbidden")
        self.assertEqual(p["reason"], "probe_forbidden")
        detail = self.get("/posture/svc-metadata/detail?hours=1").json()
        self.assertIn("not allowed", detail["evidence"]["error"])

    def test_6_lists_summary_csv_and_filters(self):
        self.wait_state("svc-slow", lambda p: p["status"] == "red", "red")
        self.wait_state("svc-up", lambda p: p["status"] == "green", "green")
        unprobed = self.wait_state("svc-unprobed", lambda p: True, "listed")
        self.assertEqual(unprobed["status"], "red")
        self.assertEqual(unprobed["health_status"], "unknown")
        body = self.get("/posture").json()
        keys = [i["asset_id"] for i in body["items"]]
        self.assertEqual(body["total"], len(keys))
        self.assertGreaterEqual(body["total"], 6)
        scores = [i["posture_score"] for i in body["items"]]
        self.assertEqual(scores, sorted(scores), "worst first")
        prod = self.get("/posture?environment=PROD,staging").json()
        self.assertNotIn("svc-unprobed", [i["asset_id"] for i in prod["items"]])
        reds = self.get("/posture?status=red").json()
        self.assertTrue(all(i["status"] == "red" for i in reds["items"]))
        page = self.get("/posture?limit=2&offset=1").json()
        self.assertEqual(len(page["items"]), 2)
        self.assertEqual(page["items"][0]["asset_id"], keys[1])

        summary = self.get("/posture/summary").json()
        self.assertEqual(summary["green"] + summary["amber"] + summary["red"], body["total"])
        self.assertIn("svc-slow", summary["down_assets"])
        self.assertIsInstance(summary["posture_score_avg"], float)

        csv = self.get("/posture?format=csv")
        self.assertTrue(csv.headers["content-type"].startswith("text/csv"))
        lines = csv.body.decode().strip().split("\n")
        self.assertEqual(lines[0], "asset_id,status,last_seen,reason,criticality,name,owner,environment,posture_score")
        slow = [line for line in lines if line.startswith("svc-slow,")][0]
        self.assertTrue(slow.endswith(",0"), slow)  # a red asset keeps its 0 score

        overview = self.get("/posture/overview").json()
        self.assertEqual(overview["executive_strip"]["total_assets"], body["total"])
        self.assertLessEqual(len(overview["top_drivers"]["worst_assets"]), 5)
        self.get("/posture/does-not-exist", status=404)
        self.get("/posture?limit=0", status=422)

    def test_7_detail_timeline_and_completeness(self):
        self.wait_state("svc-up", lambda p: p["status"] == "green", "green")
        wait_for(lambda: len(self.get("/posture/svc-up/detail?hours=1").json()["timeline"]) >= 3, timeout=15,
                 what="three results in the timeline")
        d = self.get("/posture/svc-up/detail?hours=1").json()
        ev = d["timeline"][0]
        for field in ("@timestamp", "service", "asset", "level", "message", "status", "status_num", "code",
                      "latency_ms"):
            self.assertIn(field, ev)
        self.assertEqual(ev["asset"], "svc-up")
        self.assertEqual(ev["level"], "health")
        self.assertEqual(ev["status_num"], 1)
        self.assertEqual(d["evidence"], ev)
        self.assertEqual(d["expected_interval_sec"], INTERVAL)
        self.assertGreaterEqual(d["data_completeness"]["checks"], len(d["timeline"]))
        self.assertEqual(d["error_rate_24h"], 0.0)
        self.assertTrue(d["recommendations"])
        stamps = [e["@timestamp"] for e in d["timeline"]]
        self.assertEqual(stamps, sorted(stamps, reverse=True))
        self.get("/posture/svc-up/detail?hours=500", status=422)

    def test_8_reports_snapshots_and_what_changed(self):
        self.wait_state("svc-slow", lambda p: p["status"] == "red", "red")
        rep = self.get("/posture/reports/summary?period=1h").json()
        self.assertGreater(rep["uptime_checks"], 0)
        self.assertGreater(rep["uptime_pct"], 0)
        self.assertLess(rep["uptime_pct"], 100)  # time-based: some targets were down
        self.get("/posture/reports/summary?period=fortnight", status=422)
        r = self.server.request("POST", "/posture/reports/snapshot?period=24h", token=self.token)
        self.assertEqual(r.status, 200, r)
        snap = r.json()
        self.assertIsInstance(snap["id"], int)
        self.assertIn("svc-slow", snap["top_incidents"])
        hist = self.get("/posture/reports/history").json()["items"]
        self.assertEqual(hist[0]["id"], snap["id"])
        self.assertEqual(self.get(f"/posture/reports/history/{snap['id']}").json()["red"], snap["red"])
        self.get("/posture/reports/history/999999", status=404)
        diff = self.get(f"/posture/reports/what-changed?from_id={snap['id']}").json()
        self.assertEqual(diff["to"]["id"], "current")
        self.assertIn("red_delta", diff)
        trend = self.get("/posture/trend?range=24h").json()
        self.assertEqual(trend["points"][-1]["red"], snap["red"])
        self.get("/posture/trend?range=1y", status=422)
        audit = self.get("/audit?action=posture_report.snapshot").json()
        self.assertTrue(audit["items"] if isinstance(audit, dict) else audit)

    def test_9_deleted_asset_leaves_posture(self):
        r = self.server.request("POST", "/assets/", token=self.token, body={
            "asset_key": "svc-temp", "type": "app", "name": "temp",
            "probe": {"url": self.up.url, "interval_seconds": INTERVAL}})
        self.assertEqual(r.status, 201, r)
        self.wait_state("svc-temp", lambda p: p["status"] == "green", "green")
        r = self.server.request("DELETE", "/assets/by-key/svc-temp", token=self.token)
        self.assertIn(r.status, (200, 204), r)
        wait_for(lambda: self.server.request("GET", "/posture/svc-temp", token=self.token).status == 404,
                 timeout=10, what="deleted asset gone from posture")

    def job(self, body, status=201):
        r = self.server.request("POST", "/jobs", token=self.token, body=body)
        self.assertEqual(r.status, status, r)
        return r.json()

    def wait_job(self, job_id, timeout=30):
        def finished():
            j = self.get(f"/jobs/{job_id}").json()
            return j if j["status"] in ("done", "failed") else None
        return wait_for(finished, timeout=timeout, interval=0.1, what=f"job {job_id} to finish")

    def findings_of(self, asset_key, source):
        r = self.get(f"/findings/?asset_key={asset_key}&limit=200")
        return [f for f in r.json() if f["source"] == source]

    def test_10_web_exposure_job_creates_findings_and_is_idempotent(self):
        created = self.job({"job_type": "web_exposure", "asset_key": "svc-up"})
        self.assertEqual(created["status"], "queued")
        self.assertFalse(created["deduplicated"])
        self.assertEqual(created["requested_by"], "admin")
        again = self.job({"job_type": "web_exposure", "asset_key": "svc-up", "requested_by": "mallory"}, status=200)
        self.assertEqual(again["job_id"], created["job_id"])
        self.assertTrue(again["deduplicated"])
        done = self.wait_job(created["job_id"])
        self.assertEqual(done["status"], "done", done)
        self.assertIn("Scanning http://127.0.0.1:", done["log_output"])
        self.assertIn("Done", done["log_output"])
        found = self.findings_of("svc-up", "web_exposure")
        titles = " | ".join(f["title"] for f in found)
        self.assertTrue(found, "missing security headers are findings")
        self.assertIn("Content-Security-Policy", titles)
        keys = {f["finding_key"] for f in found}
        # A re-run (retry) updates the same findings instead of duplicating them.
        r = self.server.request("POST", f"/jobs/{created['job_id']}/retry", token=self.token)
        self.assertEqual(r.status, 200, r)
        self.wait_job(created["job_id"])
        again_found = self.findings_of("svc-up", "web_exposure")
        self.assertEqual({f["finding_key"] for f in again_found}, keys)
        jobs = self.get("/jobs?limit=10").json()["items"]
        self.assertIn(created["job_id"], [j["job_id"] for j in jobs])
        self.assertNotIn("log_output", jobs[0])
        analytics = self.get("/jobs/analytics?lookback_hours=1").json()
        self.assertGreaterEqual(analytics["totals"]["done_jobs"], 1)
        self.assertIn("web_exposure", [t["job_type"] for t in analytics["by_job_type"]])

    def test_11_health_job_on_a_slow_target_reports_unavailability(self):
        created = self.job({"job_type": "health_http", "asset_key": "svc-slow"})
        done = self.wait_job(created["job_id"])
        self.assertEqual(done["status"], "done", done)
        found = self.findings_of("svc-slow", "health_http")
        self.assertEqual(len(found), 1, found)
        self.assertEqual(found[0]["category"], "availability")
        self.assertIn("timeout", found[0]["evidence"])

    def test_12_bad_jobs_are_refused_and_unverified_domains_are_not_scanned(self):
        r = self.server.request("POST", "/jobs", token=self.token, body={"job_type": "port_scan", "asset_key": "svc-up"})
        self.assertEqual(r.status, 422, r)
        r = self.server.request("POST", "/jobs", token=self.token, body={"job_type": "web_exposure", "asset_key": "nope"})
        self.assertEqual(r.status, 422, r)
        self.get("/jobs/999999", status=404)
        r = self.server.request("POST", "/assets/", token=self.token, body={
            "asset_key": "ext-site", "type": "external_web", "name": "example.invalid"})
        self.assertEqual(r.status, 201, r)
        created = self.job({"job_type": "web_exposure", "asset_key": "ext-site"})
        done = self.wait_job(created["job_id"])
        self.assertEqual(done["status"], "failed")
        self.assertIn("Domain not verified", done["error"])

    def test_13_domain_verification_gates_external_scans(self):
        token = {}
        site = Target(lambda n, path: (200, 0, (token.get("value", "") + "\n").encode())
                      if path == "/.well-known/secplat-verification.txt" else (200, 0))
        try:
            r = self.server.request("POST", "/assets/", token=self.token, body={
                "asset_key": "ext-local", "type": "external_web", "name": f"127.0.0.1:{site.port}"})
            self.assertEqual(r.status, 201, r)
            asset = r.json()
            token["value"] = "not-the-token"
            r = self.server.request("POST", f"/assets/{asset['asset_id']}/verify", token=self.token,
                                    body={"method": "well_known"})
            self.assertEqual(r.status, 400, r)
            self.assertFalse(r.json()["verified"])
            self.assertNotIn(asset["verification_token"], r.body.decode())
            token["value"] = asset["verification_token"]
            r = self.server.request("POST", f"/assets/{asset['asset_id']}/verify", token=self.token,
                                    body={"method": "well_known"})
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.json()["verified"])
            self.assertTrue(self.get("/assets/by-key/ext-local").json()["verified"])
            created = self.job({"job_type": "web_exposure", "asset_key": "ext-local"})
            # external_web assets are scanned at https://<name>; this plain-HTTP test server cannot
            # speak TLS, so the job runs (verification passed) and reports the failure it met.
            done = self.wait_job(created["job_id"], timeout=60)
            self.assertNotIn("Domain not verified", done.get("error") or "")
            self.assertIn("Scanning https://127.0.0.1:", done["log_output"])
        finally:
            site.stop()


class ConfigAssetsTest(unittest.TestCase):
    """Assets declared in the config file are created, probed, win over API edits and are locked."""

    def test_declared_assets_are_probed_and_the_file_wins(self):
        target = Target(lambda n, path: (200, 0))
        server = None
        try:
            server = Server(env={"SECPLAT_PROBE_ALLOW_PRIVATE": "true", "SECPLAT_POSTURE_SWEEP_INTERVAL_S": "1"})
            config = os.path.join(server.tmp.name, "secplat.yaml")
            with open(config, "w") as f:
                f.write("assets:\n"
                        "  - asset_key: cfg-web\n"
                        "    type: app\n"
                        "    name: Config web\n"
                        "    environment: prod\n"
                        f"    probe: {{url: '{target.url}', interval_seconds: 1}}\n")
            server.args = ["--config", config]
            server.start()
            token = server.token()
            asset = server.request("GET", "/assets/by-key/cfg-web", token=token).json()
            self.assertEqual(asset["name"], "Config web")
            self.assertEqual(asset["metadata"]["managed_by"], "config")
            wait_for(lambda: (server.request("GET", "/posture/cfg-web", token=token).json() or {}).get("status")
                     == "green", timeout=15, what="declared asset probed and green")
            r = server.request("PATCH", "/assets/by-key/cfg-web", token=token, body={"name": "edited"})
            self.assertEqual(r.status, 409, r)
            self.assertIn("config file", r.json()["error"]["message"])
            r = server.request("DELETE", "/assets/by-key/cfg-web", token=token)
            self.assertEqual(r.status, 409, r)
            # A restart with a changed file updates the asset: the file wins.
            server.stop()
            with open(config, "w") as f:
                f.write("assets:\n  - asset_key: cfg-web\n    name: Renamed in file\n")
            server.start()
            token = server.token()
            asset = server.request("GET", "/assets/by-key/cfg-web", token=token).json()
            self.assertEqual(asset["name"], "Renamed in file")
            self.assertEqual(asset["environment"], "prod")  # fields the file no longer names are kept
            # A bad declaration stops the start with exit code 2 naming the asset.
            server.stop()
            with open(config, "w") as f:
                f.write("assets:\n  - asset_key: cfg-bad\n    type: mainframe\n")
            proc = subprocess.run([BINARY, "serve", "--listen", f"127.0.0.1:{server.port}", "--data-dir",
                                   server.data_dir, "--config", config], env=server.env, capture_output=True,
                                  text=True, timeout=30)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertIn("cfg-bad", proc.stderr)
        finally:
            if server:
                server.close()
            target.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
