"""Black-box tests of the foundation: ops routes, auth, users, API keys, audit, the error envelope
and bad input, against the real binary."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import ADMIN_PASSWORD, BINARY, Server, wait_for  # noqa: E402

PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("POST", "/auth/login"), ("POST", "/auth/refresh"),
          ("GET", "/auth/config")}


def assert_envelope(tc, r, status):
    tc.assertEqual(r.status, status, r)
    body = r.json()
    err = body["error"]
    tc.assertEqual(err["status_code"], status)
    tc.assertIsInstance(err["message"], str)
    tc.assertEqual(body["detail"], err["message"])
    tc.assertEqual(err["retryable"], status in (408, 425, 429, 500, 502, 503, 504))
    tc.assertIn("detail", err)
    tc.assertEqual(err["request_id"], r.headers["x-request-id"])
    return err


class Foundation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(env={"SECPLAT_HTTP_READ_TIMEOUT_S": "3"}).start()
        cls.admin = cls.srv.token()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def req(self, *a, **kw):
        return self.srv.request(*a, **kw)

    # --- ops -------------------------------------------------------------------------------
    def test_health_and_ready_are_public(self):
        r = self.req("GET", "/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ok"})
        r = self.req("GET", "/ready")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "ok")
        self.assertEqual(r.json()["checks"]["store"], "ok")
        self.assertEqual(r.json()["checks"]["queue"], "ok")

    def test_every_non_public_route_needs_a_token(self):
        doc = self.req("GET", "/openapi.json", token=self.admin)
        self.assertEqual(doc.status, 200)
        spec = doc.json()
        self.assertTrue(spec["openapi"].startswith("3.1"))
        checked = 0
        for path, ops in spec["paths"].items():
            for method in ops:
                concrete = re.sub(r"\{[^}]+\}", "x1", path)
                r = self.req(method.upper(), concrete)
                if (method.upper(), path) in PUBLIC:
                    self.assertNotEqual(r.status, 401, f"{method} {path} should be public")
                    continue
                assert_envelope(self, r, 401)
                checked += 1
        self.assertGreater(checked, 15)
        for m, p in PUBLIC:
            self.assertIn(p, spec["paths"])

    def test_metrics_counts_requests_by_route_template(self):
        self.req("GET", "/auth/users/nobody-here", token=self.admin)
        r = self.req("GET", "/metrics", token=self.admin)
        self.assertEqual(r.status, 200)
        text = r.body.decode()
        self.assertIn("# TYPE secplat_http_requests_total counter", text)
        self.assertRegex(text, r'secplat_http_requests_total\{[^}]*route="/auth/users/\{username\}"')
        self.assertIn("secplat_http_request_duration_seconds_bucket", text)
        self.assertRegex(text, r"process_resident_memory_bytes \d+")
        self.assertRegex(text, r"process_uptime_seconds [0-9.]+")
        self.assertRegex(text, r'secplat_queue_length\{stream="secplat.jobs.scan"\} \d+')
        if not os.environ.get("SECPLAT_TEST_PG_DIR"):
            # The embedded store's counters: the requests above committed (audit rows at least).
            commits = re.search(r"^secplat_sqlite_commits_total (\d+)$", text, re.M)
            self.assertIsNotNone(commits, text[-2000:])
            self.assertGreater(int(commits.group(1)), 0)
            self.assertRegex(text, r"secplat_sqlite_statement_cache_hits_total \d+")
            self.assertRegex(text, r"(?m)^secplat_sqlite_checkpoints_total \d+$")
            self.assertRegex(text, r"(?m)^secplat_sqlite_commit_checkpoints_total \d+$")
            self.assertRegex(text, r"(?m)^secplat_sqlite_group_reruns_total \d+$")
        else:
            self.assertNotIn("secplat_sqlite_", text)
        self.assertEqual(self.req("GET", "/metrics").status, 401)

    def test_queue_health_shape(self):
        r = self.req("GET", "/queue/health", token=self.admin)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        for s in ("secplat.jobs.scan", "secplat.jobs.derive", "secplat.events.notify", "secplat.events.correlation"):
            self.assertIn(s, body["streams"])
            self.assertIn(s + ".dlq", body["dlq_streams"])
            self.assertIn(s, body["pending"])
        if os.environ.get("SECPLAT_TEST_REDIS_DIR"):
            # The reference's shape on Redis: redis ok, the server's version, groups per stream.
            self.assertEqual(body["backend"], "redis")
            self.assertEqual(body["redis"], "ok")
            self.assertRegex(body["redis_version"], r"^\d+\.\d+")
            # The reference's four fields, plus our `lag` (entries not yet delivered to the group).
            group = body["pending"]["secplat.jobs.scan"]["workers"]
            self.assertEqual(set(group), {"pending", "min_id", "max_id", "oldest_idle_ms", "lag"})
            self.assertIsInstance(group["lag"], int)
        else:
            self.assertEqual(body["backend"], "local")

    # --- envelope and bad input --------------------------------------------------------------
    def test_unknown_path_and_wrong_method_use_the_envelope(self):
        assert_envelope(self, self.req("GET", "/no/such/route", token=self.admin), 404)
        r = self.req("DELETE", "/health")
        err = assert_envelope(self, r, 405)
        self.assertIn("GET", r.headers.get("allow", ""))
        self.assertIsInstance(err["message"], str)

    def test_request_id_is_echoed_when_sane_and_replaced_otherwise(self):
        r = self.req("GET", "/health", headers={"X-Request-Id": "trace-42.a_b"})
        self.assertEqual(r.headers["x-request-id"], "trace-42.a_b")
        r = self.req("GET", "/health", headers={"X-Request-Id": "bad id with spaces"})
        self.assertRegex(r.headers["x-request-id"], r"^[0-9a-f-]{36}$")
        r = self.req("GET", "/health", headers={"X-Request-Id": "a" * 129})
        self.assertRegex(r.headers["x-request-id"], r"^[0-9a-f-]{36}$")

    def test_malformed_json_wrong_types_unknown_fields(self):
        r = self.req("POST", "/auth/users", body='{"username": "x", ', token=self.admin,
                     headers={"Content-Type": "application/json"})
        err = assert_envelope(self, r, 422)
        self.assertIsInstance(err["detail"], list)
        r = self.req("POST", "/auth/users", body={"username": 12, "password": "longenough"}, token=self.admin)
        err = assert_envelope(self, r, 422)
        self.assertIn("username", json.dumps(err["detail"]))
        r = self.req("POST", "/auth/users", body={"username": "u1", "password": "longenough", "colour": "red"},
                     token=self.admin)
        err = assert_envelope(self, r, 422)
        self.assertIn("colour", json.dumps(err["detail"]))

    def test_absurd_limit_is_refused(self):
        for bad in ("1000000", "-1", "abc"):
            r = self.req("GET", f"/audit?limit={bad}", token=self.admin)
            err = assert_envelope(self, r, 422)
            self.assertIn("limit", json.dumps(err["detail"]))

    def test_oversized_body_and_headers(self):
        big = "x" * (2 << 20)
        r = self.req("POST", "/auth/login", body=big, headers={"Content-Type": "application/json"})
        assert_envelope(self, r, 413)
        r = self.req("GET", "/health", headers={"X-Junk": "y" * (64 << 10)})
        self.assertEqual(r.status, 431)

    def test_invalid_utf8_in_path(self):
        r = self.req("GET", "/auth/users/%ff%fe", token=self.admin)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.req("GET", "/health").status, 200)

    def test_slowloris_is_cut_off_while_others_are_served(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        # The server keeps serving others while that client dawdles.
        for _ in range(5):
            self.assertEqual(self.req("GET", "/health").status, 200)
        s.settimeout(60)
        started = time.monotonic()
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        s.close()
        self.assertLess(time.monotonic() - started, 20)

    # --- auth ------------------------------------------------------------------------------
    def test_login_me_and_bad_password(self):
        r = self.req("GET", "/auth/me", token=self.admin)
        self.assertEqual(r.json(), {"username": "admin", "role": "admin", "workspaces": ["*"]})
        r = self.req("POST", "/auth/login", form={"username": "admin", "password": "wrong"})
        assert_envelope(self, r, 401)
        r = self.req("GET", "/auth/me", token="not-a-token")
        assert_envelope(self, r, 401)
        self.assertEqual(self.req("GET", "/auth/config").json(), {"oidc_enabled": False})

    def test_roles_and_user_lifecycle(self):
        r = self.req("POST", "/auth/users", body={"username": "vera", "role": "viewer", "password": "vera-pass-1"},
                     token=self.admin)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["role"], "viewer")
        r = self.req("POST", "/auth/users", body={"username": "vera", "password": "vera-pass-1"}, token=self.admin)
        assert_envelope(self, r, 409)
        vera = self.srv.token("vera", "vera-pass-1")
        self.assertEqual(self.req("GET", "/auth/me", token=vera).json()["role"], "viewer")
        assert_envelope(self, self.req("GET", "/auth/users", token=vera), 403)
        assert_envelope(self, self.req("GET", "/audit", token=vera), 403)
        # Disabling cuts off a token that is still within its lifetime.
        r = self.req("POST", "/auth/users/vera/disable", token=self.admin)
        self.assertEqual(r.status, 200, r)
        assert_envelope(self, self.req("GET", "/auth/me", token=vera), 401)
        r = self.req("POST", "/auth/login", form={"username": "vera", "password": "vera-pass-1"})
        assert_envelope(self, r, 401)
        r = self.req("POST", "/auth/users/vera/reset-password", body={"password": "vera-pass-2"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        vera = self.srv.token("vera", "vera-pass-2")
        # Promotion takes effect on the next request.
        r = self.req("PATCH", "/auth/users/vera", body={"role": "admin"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        vera2 = self.srv.token("vera", "vera-pass-2")
        self.assertEqual(self.req("GET", "/auth/users", token=vera2).status, 200)
        # The bootstrap admin can be neither disabled nor demoted.
        assert_envelope(self, self.req("POST", "/auth/users/admin/disable", token=self.admin), 400)
        assert_envelope(self, self.req("PATCH", "/auth/users/admin", body={"role": "viewer"}, token=self.admin), 400)
        assert_envelope(self, self.req("PATCH", "/auth/users/ghost", body={"role": "viewer"}, token=self.admin), 404)

    def test_refresh_rotation_and_replay_revokes_family(self):
        pair = self.srv.login()
        r = self.req("POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]})
        self.assertEqual(r.status, 200, r)
        second = r.json()
        self.assertNotEqual(second["refresh_token"], pair["refresh_token"])
        # Replaying the rotated token fails and kills the whole family, including the new one.
        assert_envelope(self, self.req("POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]}), 401)
        assert_envelope(self, self.req("POST", "/auth/refresh", body={"refresh_token": second["refresh_token"]}), 401)
        assert_envelope(self, self.req("POST", "/auth/refresh", body={"refresh_token": ""}), 400)

    def test_api_keys(self):
        r = self.req("POST", "/auth/api-keys", body={"name": "ci-bot", "role": "analyst"}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        key = r.json()["key"]
        kid = r.json()["id"]
        self.assertEqual(self.req("GET", "/auth/me", token=key).json()["role"], "analyst")
        listed = self.req("GET", "/auth/api-keys", token=self.admin).json()
        self.assertNotIn(key, json.dumps(listed))
        self.assertEqual(self.req("DELETE", f"/auth/api-keys/{kid}", token=self.admin).status, 200)
        assert_envelope(self, self.req("GET", "/auth/me", token=key), 401)

    def test_audit_records_mutations_with_request_id(self):
        self.req("POST", "/auth/users", body={"username": "audited", "password": "audited-pass"}, token=self.admin,
                 headers={"X-Request-Id": "audit-trace-1"})
        r = self.req("GET", "/audit?action=user.create&limit=50", token=self.admin)
        self.assertEqual(r.status, 200, r)
        items = r.json()["items"]
        mine = [i for i in items if i["request_id"] == "audit-trace-1"]
        self.assertEqual(len(mine), 1, items)
        self.assertEqual(mine[0]["user_name"], "admin")
        self.assertIn("user.create", r.json()["actions"])
        self.assertNotIn("audited-pass", r.body.decode())


class LoginLimiter(unittest.TestCase):
    def test_tripped_limiter_refuses_even_the_right_password(self):
        srv = Server(env={"SECPLAT_AUTH_LOGIN_MAX_FAILURES": "3", "SECPLAT_AUTH_LOGIN_WINDOW_S": "2"}).start()
        try:
            for _ in range(3):
                srv.request("POST", "/auth/login", form={"username": "admin", "password": "nope"})
            r = srv.request("POST", "/auth/login", form={"username": "admin", "password": ADMIN_PASSWORD})
            assert_envelope(self, r, 429)
            self.assertIn("retry-after", r.headers)
            wait_for(lambda: srv.request("POST", "/auth/login",
                                         form={"username": "admin", "password": ADMIN_PASSWORD}).status == 200,
                     timeout=10, interval=0.25, what="limiter window to pass")
        finally:
            srv.close()


class Lifecycle(unittest.TestCase):
    def test_config_error_exits_2_naming_the_key(self):
        env = dict(os.environ, SECPLAT_HTTP_MAX_BODY_BYTES="lots")
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([BINARY, "serve", "--data-dir", d, "--listen", "127.0.0.1:0"], env=env,
                               capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"http.max_body_bytes", p.stderr)
        p = subprocess.run([BINARY, "serve", "--no-such-flag"], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2)

    def test_random_admin_password_is_printed_once_and_works(self):
        srv = Server(env={"SECPLAT_ADMIN_PASSWORD": ""})
        try:
            srv.start()
            out = srv.output()
            m = re.search(r"password: (\S+)", out)
            self.assertIsNotNone(m, out)
            srv.login("admin", m.group(1))
            self.assertEqual(srv.stop(), 0)
            srv.start()
            self.assertNotIn(m.group(1), srv.output())  # printed on first start only
            srv.login("admin", m.group(1))
        finally:
            srv.close()

    def test_sigterm_drains_and_exits_zero(self):
        srv = Server().start()
        try:
            tok = srv.token()
            conn = srv.connection()
            conn.request("GET", "/auth/me", headers={"Authorization": f"Bearer {tok}"})
            self.assertEqual(conn.getresponse().status, 200)
            conn.close()
            self.assertEqual(srv.stop(signal.SIGTERM), 0)
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        finally:
            srv.close()

    def test_state_survives_restart(self):
        srv = Server()
        try:
            srv.start()
            tok = srv.token()
            r = srv.request("POST", "/auth/users", body={"username": "keeper", "password": "keeper-pass"}, token=tok)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(srv.stop(), 0)
            srv.start()
            srv.login("keeper", "keeper-pass")
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
