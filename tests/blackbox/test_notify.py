"""Black-box test of incidents and notifications out of the box: `secplat serve` with only the
contract's SECPLAT_SLACK_WEBHOOK_URL and SECPLAT_WEBHOOK_URL/SECRET set probes assets; an asset going
down opens exactly one incident and each channel gets exactly one message (at a local receiver
speaking Slack's and the webhook's wire formats); recovery resolves the incident with one resolve
message; a maintenance window holds the alert and, when it ends with the asset still down, the
incident opens and notifies once; manual alerts are analyst-only and deduped; GET /notifications
shows every delivery."""
import datetime
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Server, Switch, wait_for  # noqa: E402

RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "notify", "receiver.py")
SLACK_PATH = "/services/T0001/B0001/s3cr3tT0ken"
SECRET = "webhook-signing-secret"




class NotifyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="secplat-notify-")
        cls.rdir = cls.tmp.name
        cls.receiver = subprocess.Popen([sys.executable, RECEIVER, cls.rdir], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(os.path.join(cls.rdir, "port")), timeout=10, what="receiver")
        with open(os.path.join(cls.rdir, "port")) as f:
            port = int(f.read().strip())
        cls.target = Switch()
        cls.srv = Server(env={
            "SECPLAT_PROBE_ALLOW_PRIVATE": "true",
            "SECPLAT_POSTURE_SWEEP_INTERVAL_S": "1",
            "SECPLAT_POSTURE_TARGET_REFRESH_S": "1",
            "SECPLAT_SLACK_WEBHOOK_URL": f"http://127.0.0.1:{port}{SLACK_PATH}",
            "SECPLAT_WEBHOOK_URL": f"http://127.0.0.1:{port}/hooks/secplat",
            "SECPLAT_WEBHOOK_SECRET": SECRET}).start()
        cls.token = cls.srv.token()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.close()
        finally:
            cls.receiver.terminate()
            cls.receiver.wait()
            cls.target.httpd.shutdown()
            cls.tmp.cleanup()

    def requests(self):
        path = os.path.join(self.rdir, "requests.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def by_channel(self, asset=None):
        reqs = [r for r in self.requests() if asset is None or asset in r["body"]]
        return ([r for r in reqs if r["path"] == SLACK_PATH], [r for r in reqs if r["path"] == "/hooks/secplat"])

    def add_probed(self, key, target):
        r = self.srv.request("POST", "/assets/", token=self.token, body={
            "asset_key": key, "name": key, "type": "app", "environment": "prod",
            "criticality": "high", "owner": "team-a", "probe": {"url": target.url, "interval_seconds": 1}})
        self.assertIn(r.status, (200, 201), r)
        wait_for(lambda: self.status(key) == "up", timeout=30, what=key + " up")

    def status(self, key):
        return self.srv.request("GET", f"/posture/{key}", token=self.token).json().get("health_status")

    def incidents_of(self, key):
        items = self.srv.request("GET", "/incidents?limit=200", token=self.token).json()["items"]
        return [i for i in items if key in i["title"]]

    def viewer(self):
        if not hasattr(type(self), "_viewer"):
            self.srv.request("POST", "/auth/users", token=self.token,
                             body={"username": "vic", "password": "viewer-password-1", "role": "viewer"})
            type(self)._viewer = self.srv.token("vic", "viewer-password-1")
        return type(self)._viewer

    def test_down_then_up_opens_and_resolves_one_incident_with_one_message_each_way(self):
        self.add_probed("shop-api", self.target)
        self.assertEqual(self.by_channel("shop-api"), ([], []))  # unknown → up is not news

        self.target.healthy = False
        wait_for(lambda: all(len(c) >= 1 for c in self.by_channel("shop-api")), timeout=30, what="down notifications")
        time.sleep(4)  # more probe intervals and deriver passes: still one incident, one message per channel
        slack, hooks = self.by_channel("shop-api")
        self.assertEqual((len(slack), len(hooks)), (1, 1), self.requests())
        self.assertEqual(json.loads(slack[0]["body"])["text"], "[CRITICAL] shop-api is down")
        body = hooks[0]["body"]
        ts = hooks[0]["headers"]["x-secplat-timestamp"]
        mac = hmac.new(SECRET.encode(), (ts + "." + body).encode(), hashlib.sha256).hexdigest()
        self.assertEqual(hooks[0]["headers"]["x-secplat-signature"], "sha256=" + mac)
        self.assertEqual(json.loads(body)["status"], "firing")
        incidents = self.incidents_of("shop-api")
        self.assertEqual(len(incidents), 1, incidents)
        inc = incidents[0]
        self.assertEqual((inc["status"], inc["severity"]), ("new", "critical"))
        self.assertIsNotNone(inc["sla_due_at"])  # critical: due in 4 hours
        detail = self.srv.request("GET", f"/incidents/{inc['id']}", token=self.token).json()
        self.assertEqual([a["asset_key"] for a in detail["alerts"]], ["shop-api"])
        # The alert is firing while the asset is down.
        alerts = self.srv.request("GET", "/alerts", token=self.token).json()
        self.assertIn("shop-api", [a["asset_key"] for a in alerts["firing"]])

        self.target.healthy = True
        wait_for(lambda: all(len(c) >= 2 for c in self.by_channel("shop-api")), timeout=30,
                 what="resolve notifications")
        time.sleep(3)
        slack, hooks = self.by_channel("shop-api")
        self.assertEqual((len(slack), len(hooks)), (2, 2), self.requests())
        self.assertEqual(json.loads(slack[1]["body"])["text"], "[CRITICAL] Resolved: shop-api is down")
        self.assertEqual(json.loads(hooks[1]["body"])["status"], "resolved")
        inc = self.srv.request("GET", f"/incidents/{inc['id']}", token=self.token).json()
        self.assertEqual(inc["status"], "resolved")
        self.assertIsNotNone(inc["resolved_at"])
        self.assertEqual(len(self.incidents_of("shop-api")), 1)
        # A recovered asset's alert is no longer firing (a reference bug).
        alerts = self.srv.request("GET", "/alerts", token=self.token).json()
        self.assertNotIn("shop-api", [a["asset_key"] for a in alerts["firing"]])
        # resolved → contained is not a lifecycle move: 409, and nothing changed.
        r = self.srv.request("PATCH", f"/incidents/{inc['id']}/status", token=self.token, body={"status": "contained"})
        self.assertEqual(r.status, 409, r)
        r = self.srv.request("PATCH", f"/incidents/{inc['id']}/status", token=self.token, body={"status": "closed"})
        self.assertEqual((r.status, r.json()["status"]), (200, "closed"), r)

        listed = self.srv.request("GET", "/notifications?status=sent", token=self.token).json()
        mine = [d for d in listed["items"] if d["dedupe_key"].startswith(f"incident:{inc['id']}:")]
        self.assertEqual(len(mine), 4, listed)
        self.assertEqual({d["channel"] for d in mine}, {"slack", "webhook"})
        # The Slack URL is a secret: not in the API, not in the log.
        self.assertNotIn("s3cr3tT0ken", json.dumps(listed))
        self.assertNotIn("s3cr3tT0ken", self.srv.output())
        self.assertNotIn(SECRET, self.srv.output())
        # Viewers may not read deliveries.
        self.assertEqual(self.srv.request("GET", "/notifications", token=self.viewer()).status, 403)

    def test_maintenance_window_holds_the_alert_then_notifies_once_when_it_ends(self):
        target = Switch()
        self.addCleanup(target.httpd.shutdown)
        self.add_probed("db-main", target)
        now = datetime.datetime.now(datetime.timezone.utc)
        end = now + datetime.timedelta(seconds=12)
        iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
        r = self.srv.request("POST", "/suppression/maintenance-windows", token=self.token, body={
            "asset_key": "db-main", "start_at": iso(now - datetime.timedelta(minutes=1)), "end_at": iso(end),
            "reason": "db upgrade"})
        self.assertEqual(r.status, 201, r)
        # A naive datetime is ambiguous: refused.
        r = self.srv.request("POST", "/suppression/maintenance-windows", token=self.token, body={
            "asset_key": "db-main", "start_at": "2026-01-01T00:00:00", "end_at": "2026-01-01T01:00:00"})
        self.assertIn(r.status, (400, 422), r)

        target.healthy = False
        wait_for(lambda: self.status("db-main") == "down", timeout=30, what="db-main down")
        time.sleep(2)
        self.assertEqual(self.incidents_of("db-main"), [])
        self.assertEqual(self.by_channel("db-main"), ([], []))
        alerts = self.srv.request("GET", "/alerts", token=self.token).json()
        suppressed = [a for a in alerts["suppressed"] if a["asset_key"] == "db-main"]
        self.assertEqual(len(suppressed), 1, alerts)
        self.assertTrue(suppressed[0]["maintenance_active"])

        # The window ends with the asset still down: at once, one incident and one message per channel.
        wait_for(lambda: datetime.datetime.now(datetime.timezone.utc) > end, timeout=30, what="window end")
        wait_for(lambda: all(len(c) >= 1 for c in self.by_channel("db-main")), timeout=10, what="held alert released")
        time.sleep(3)
        slack, hooks = self.by_channel("db-main")
        self.assertEqual((len(slack), len(hooks)), (1, 1), self.requests())
        self.assertEqual(len(self.incidents_of("db-main")), 1)

    def test_manual_alert_is_analyst_only_and_not_repeated_within_the_window(self):
        target = Switch()
        self.addCleanup(target.httpd.shutdown)
        self.add_probed("pay-api", target)
        target.healthy = False
        wait_for(lambda: len(self.incidents_of("pay-api")) == 1, timeout=30, what="pay-api incident")
        wait_for(lambda: all(len(c) >= 1 for c in self.by_channel("pay-api")), timeout=10, what="incident message")
        self.assertEqual(self.srv.request("POST", "/posture/alert/send", token=self.viewer()).status, 403)
        r = self.srv.request("POST", "/posture/alert/send", token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["queued"])
        self.assertIn("pay-api", r.json()["down_assets"])
        alert_text = "asset(s) down:"
        sent = lambda: [x for x in self.by_channel("pay-api")[0] if alert_text in x["body"]]  # noqa: E731
        wait_for(lambda: len(sent()) == 1, timeout=10, what="manual alert")
        self.assertEqual(self.srv.request("POST", "/posture/alert/send", token=self.token).status, 200)
        time.sleep(2)
        self.assertEqual(len(sent()), 1)  # the same set again within the window is not news
        # Both alerts joined the asset's one incident as timeline entries.
        inc = self.incidents_of("pay-api")
        self.assertEqual(len(inc), 1)
        timeline = self.srv.request("GET", f"/incidents/{inc[0]['id']}/timeline", token=self.token).json()["items"]
        self.assertGreaterEqual(sum(1 for t in timeline if "Alert sent" in (t.get("body") or "")), 2, timeline)
        target.healthy = True
        wait_for(lambda: self.incidents_of("pay-api")[0]["status"] == "resolved", timeout=30, what="pay-api resolved")

    def test_a_serious_finding_opens_an_incident_and_its_remediation_resolves_it(self):
        r = self.srv.request("POST", "/assets/", token=self.token, body={
            "asset_key": "ledger", "name": "ledger", "type": "app", "environment": "prod"})
        self.assertIn(r.status, (200, 201), r)
        low = self.srv.request("POST", "/findings/", token=self.token, body={
            "asset_key": "ledger", "finding_key": "banner", "title": "Server banner", "severity": "low"})
        self.assertIn(low.status, (200, 201), low)
        high = self.srv.request("POST", "/findings/", token=self.token, body={
            "asset_key": "ledger", "finding_key": "sqli", "title": "SQL injection in /search", "severity": "high"})
        self.assertIn(high.status, (200, 201), high)
        wait_for(lambda: len(self.incidents_of("SQL injection")) == 1, timeout=20, what="finding incident")
        inc = self.incidents_of("SQL injection")[0]
        self.assertEqual(self.incidents_of("Server banner"), [])  # low findings stay findings
        wait_for(lambda: all(len(c) == 1 for c in self.by_channel("SQL injection")), timeout=10,
                 what="finding incident message")
        # The incident shows the risk of its asset's findings, riskiest first.
        detail = self.srv.request("GET", f"/incidents/{inc['id']}", token=self.token).json()
        risk = detail["linked_risk"]
        self.assertEqual(risk["asset_count"], 1)
        self.assertEqual(risk["finding_count"], 2)
        self.assertEqual(risk["active_finding_count"], 2)
        self.assertEqual(risk["items"][0]["title"], "SQL injection in /search")
        self.assertEqual(risk["top_risk_score"], risk["items"][0]["risk_score"])
        self.assertGreaterEqual(risk["items"][0]["risk_score"], risk["items"][1]["risk_score"])
        fid = high.json()["finding_id"]
        r = self.srv.request("PATCH", f"/findings/{fid}/status", token=self.token, body={"status": "remediated"})
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: self.srv.request("GET", f"/incidents/{inc['id']}", token=self.token).json()["status"]
                 == "resolved", timeout=20, what="finding incident resolved")
        wait_for(lambda: all(len(c) == 2 for c in self.by_channel("SQL injection")), timeout=10,
                 what="resolve message")


if __name__ == "__main__":
    unittest.main(verbosity=2)
