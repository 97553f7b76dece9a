"""Black-box: `secplat serve` on its own real PostgreSQL, which is stopped and started again under
it. While the database is down the API answers 503 with `retryable: true` (and /ready says not
ready); once it is back the same process serves again, reads and writes, without a restart."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Server, wait_for  # noqa: E402

PG = os.path.join(os.path.dirname(__file__), "..", "support", "pg_test_server.sh")


class PostgresRestart(unittest.TestCase):
    def setUp(self):
        self.pg_dir = tempfile.mkdtemp(prefix="secplat-pg-restart-", dir="/tmp")
        os.rmdir(self.pg_dir)  # the script creates it (owned by the server's user)
        subprocess.run([PG, "start", self.pg_dir], check=True)
        with open(os.path.join(self.pg_dir, "url")) as f:
            url = f.read().strip()
        self.srv = Server(env={"SECPLAT_DATABASE_URL": url, "SECPLAT_POSTURE_PROBING": "false"}).start()
        self.token = self.srv.token()

    def tearDown(self):
        self.srv.close()
        subprocess.run([PG, "stop", self.pg_dir], check=False)

    def create_asset(self, key):
        return self.srv.request("POST", "/assets/", token=self.token, body={
            "asset_key": key, "name": key, "type": "app", "environment": "prod", "criticality": "high"})

    def test_database_down_is_503_retryable_and_recovers_without_restart(self):
        self.assertEqual(self.create_asset("before").status, 201)
        subprocess.run([PG, "pause", self.pg_dir], check=True)

        down = self.srv.request("GET", "/assets/", token=self.token)
        self.assertEqual(down.status, 503, down)
        self.assertTrue(down.json()["error"]["retryable"], down)
        self.assertEqual(self.create_asset("during").status, 503)
        self.assertEqual(self.srv.request("GET", "/ready").status, 503)
        self.assertEqual(self.srv.request("GET", "/health").status, 200)  # the process itself is fine

        subprocess.run([PG, "resume", self.pg_dir], check=True)
        wait_for(lambda: self.srv.request("GET", "/assets/", token=self.token).status == 200, timeout=20,
                 what="API to recover after PostgreSQL is back")
        self.assertEqual(self.create_asset("after").status, 201)
        keys = {a["asset_key"] for a in self.srv.request("GET", "/assets/", token=self.token).json()}
        self.assertEqual(keys, {"before", "after"})
        self.assertEqual(self.srv.request("GET", "/ready").status, 200)
        self.assertIsNone(self.srv.proc.poll(), "the server kept running")


if __name__ == "__main__":
    unittest.main(verbosity=2)
