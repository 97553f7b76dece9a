"""Black-box test of notifications out of the box: `secplat serve` with only the contract's
SECPLAT_SLACK_WEBHOOK_URL and SECPLAT_WEBHOOK_URL/SECRET set probes an asset; when it goes down each
channel gets exactly one message (at a local receiver speaking Slack's and the webhook's wire
formats), when it recovers one resolve message, and GET /notifications shows every delivery."""
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Server, wait_for  # noqa: E402

RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "notify", "receiver.py")
SLACK_PATH = "/services/T0001/B0001/s3cr3tT0ken"
SECRET = "webhook-signing-secret"


class Switch:
    """An HTTP target whose health the test flips."""

    def __init__(self):
        self.healthy = True
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                status = 200 if target.healthy else 503
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/health"


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

    def by_channel(self):
        reqs = self.requests()
        return ([r for r in reqs if r["path"] == SLACK_PATH], [r for r in reqs if r["path"] == "/hooks/secplat"])

    def test_down_then_up_notifies_each_channel_once_each_way(self):
        r = self.srv.request("POST", "/assets/", token=self.token, body={
            "asset_key": "shop-api", "name": "shop-api", "type": "app", "environment": "prod",
            "criticality": "high", "owner": "team-a", "probe": {"url": self.target.url, "interval_seconds": 1}})
        self.assertIn(r.status, (200, 201), r)
        wait_for(lambda: self.srv.request("GET", "/posture/shop-api", token=self.token).json().get("health_status") == "up",
                 timeout=30, what="asset up")
        self.assertEqual(self.by_channel(), ([], []))  # unknown → up is not news

        self.target.healthy = False
        wait_for(lambda: all(len(c) >= 1 for c in self.by_channel()), timeout=30, what="down notifications")
        time.sleep(4)  # more probe intervals and deriver passes: still one message per channel
        slack, hooks = self.by_channel()
        self.assertEqual((len(slack), len(hooks)), (1, 1), self.requests())
        self.assertIn("shop-api is DOWN", json.loads(slack[0]["body"])["text"])
        body = hooks[0]["body"]
        ts = hooks[0]["headers"]["x-secplat-timestamp"]
        mac = hmac.new(SECRET.encode(), (ts + "." + body).encode(), hashlib.sha256).hexdigest()
        self.assertEqual(hooks[0]["headers"]["x-secplat-signature"], "sha256=" + mac)
        self.assertEqual(json.loads(body)["status"], "firing")

        self.target.healthy = True
        wait_for(lambda: all(len(c) >= 2 for c in self.by_channel()), timeout=30, what="resolve notifications")
        time.sleep(3)
        slack, hooks = self.by_channel()
        self.assertEqual((len(slack), len(hooks)), (2, 2), self.requests())
        self.assertIn("shop-api is UP", json.loads(slack[1]["body"])["text"])
        self.assertEqual(json.loads(hooks[1]["body"])["status"], "resolved")

        listed = self.srv.request("GET", "/notifications?status=sent", token=self.token).json()
        everything = self.srv.request("GET", "/notifications", token=self.token).json()
        self.assertEqual(listed["total"], 4, everything)
        self.assertEqual({d["channel"] for d in listed["items"]}, {"slack", "webhook"})
        # The Slack URL is a secret: not in the API, not in the log.
        self.assertNotIn("s3cr3tT0ken", json.dumps(listed))
        self.assertNotIn("s3cr3tT0ken", self.srv.output())
        self.assertNotIn(SECRET, self.srv.output())
        # Viewers may not read deliveries.
        self.srv.request("POST", "/auth/users", token=self.token,
                         body={"username": "vic", "password": "viewer-password-1", "role": "viewer"})
        viewer = self.srv.token("vic", "viewer-password-1")
        self.assertEqual(self.srv.request("GET", "/notifications", token=viewer).status, 403)


if __name__ == "__main__":
    unittest.main(verbosity=2)
