"""Black-box: `secplat serve` on its own Redis (append-only, fsync always). A poison message is
dead-lettered and shows in /queue/health; when Redis stops, the API says so (503, retryable) and
keeps serving what does not need the queue; when Redis is back, the same process reconnects,
nothing the queue had acknowledged is lost, and jobs run again."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Server, wait_for  # noqa: E402

REDIS = os.path.join(os.path.dirname(__file__), "..", "support", "redis_test_server.sh")
SCAN_JOBS = "secplat.jobs.scan"


class RedisRestart(unittest.TestCase):
    def setUp(self):
        self.redis_dir = tempfile.mkdtemp(prefix="secplat-redis-restart-", dir="/tmp")
        subprocess.run([REDIS, "start", self.redis_dir], check=True, env=dict(os.environ, SECPLAT_REDIS_PERSIST="1"))
        with open(os.path.join(self.redis_dir, "url")) as f:
            self.url = f.read().strip()
        self.src = tempfile.TemporaryDirectory(prefix="secplat-redis-src-")
        with open(os.path.join(self.src.name, "app.py"), "w") as f:
            f.write("print('hello')\n")
        self.srv = Server(env={"SECPLAT_REDIS_URL": self.url, "SECPLAT_ALLOWED_SOURCE_ROOTS": self.src.name,
                               "SECPLAT_POSTURE_PROBING": "false"}).start()
        self.token = self.srv.token()

    def tearDown(self):
        self.srv.close()
        subprocess.run([REDIS, "stop", self.redis_dir], check=False)
        self.src.cleanup()

    def redis(self, *args):
        return subprocess.run(["redis-cli", "-u", self.url, *args], check=True, capture_output=True,
                              text=True).stdout

    def health(self):
        return self.srv.request("GET", "/queue/health", token=self.token)

    def submit(self):
        return self.srv.request("POST", "/v1/security-scans", token=self.token, body={
            "workspace_id": "ws-1", "component_id": "demo", "assessment_id": "a-1",
            "source_type": "directory", "directory_path": self.src.name,
            "manifest": {"profiles": [{"name": "light", "tools": ["secrets"]}]}})

    def finished(self, test_id):
        def done():
            s = self.srv.request("GET", f"/v1/security-scans/{test_id}", token=self.token).json()
            return s if s["status"] in ("SUCCEEDED", "FAILED") else None
        return wait_for(done, timeout=60, interval=0.1, what=f"scan {test_id} to finish")

    def test_poison_message_goes_to_the_dlq_and_shows_in_queue_health(self):
        self.redis("XADD", SCAN_JOBS, "*", "garbage", "1")
        wait_for(lambda: self.health().json()["dlq_streams"][SCAN_JOBS + ".dlq"] == 1, timeout=20,
                 what="the poison message in the dead-letter stream")
        body = self.health().json()
        self.assertEqual(body["redis"], "ok")
        self.assertEqual(body["pending"][SCAN_JOBS]["workers"]["pending"], 0)
        dead = self.redis("XRANGE", SCAN_JOBS + ".dlq", "-", "+")
        for field in ("garbage", "original_stream", "message without test_id", "retryable", "false"):
            self.assertIn(field, dead)

    def test_redis_down_is_503_and_the_same_process_recovers(self):
        first = self.submit()
        self.assertEqual(first.status, 202, first)
        self.assertEqual(self.finished(first.json()["test_id"])["status"], "SUCCEEDED")
        length_before = int(self.redis("XLEN", SCAN_JOBS))
        self.assertGreaterEqual(length_before, 1)

        subprocess.run([REDIS, "pause", self.redis_dir], check=True)
        ready = self.srv.request("GET", "/ready")
        self.assertEqual(ready.status, 503, ready)
        self.assertEqual(ready.json()["checks"]["queue"], "error")
        health = self.health()
        self.assertEqual(health.status, 503, health)
        self.assertEqual(health.json()["redis"], "error")
        self.assertNotIn("@", health.json()["error"])  # no credentials in the message
        down = self.submit()
        self.assertEqual(down.status, 503, down)
        self.assertTrue(down.json()["error"]["retryable"], down)
        # What does not need the queue keeps working.
        self.assertEqual(self.srv.request("GET", "/v1/security-scans", token=self.token).status, 200)

        subprocess.run([REDIS, "resume", self.redis_dir], check=True)
        wait_for(lambda: self.srv.request("GET", "/ready").status == 200, timeout=20,
                 what="readiness after Redis is back")
        self.assertGreaterEqual(int(self.redis("XLEN", SCAN_JOBS)), length_before,
                                "entries Redis acknowledged before the restart are still there")
        again = self.submit()
        self.assertEqual(again.status, 202, again)
        self.assertEqual(self.finished(again.json()["test_id"])["status"], "SUCCEEDED",
                         "the worker pool reads again after the restart")
        self.assertIsNone(self.srv.proc.poll(), "the server kept running")


if __name__ == "__main__":
    unittest.main(verbosity=2)
