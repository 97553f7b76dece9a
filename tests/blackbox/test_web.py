"""Black-box test of the web dashboard's static files: `secplat serve` itself serves index.html at /
and the files under /ui/ without a token, with their content types, strong ETags (If-None-Match →
304), gzip on request, and the security headers (a strict CSP among them); an unknown /ui/ file is
the JSON 404 envelope. The pages' behaviour in a browser is tests/browser's job."""
import gzip
import hashlib
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Server  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


class WebDashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def get(self, path, **headers):
        return self.srv.request("GET", path, headers=headers)

    def assert_security_headers(self, r):
        csp = r.headers["content-security-policy"]
        directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
        self.assertEqual(directives["default-src"], "default-src 'self'")
        self.assertEqual(directives["frame-ancestors"], "frame-ancestors 'none'")
        self.assertEqual(directives["connect-src"], "connect-src 'self'")
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("unsafe-eval", csp)
        self.assertEqual(r.headers["x-content-type-options"], "nosniff")
        self.assertEqual(r.headers["referrer-policy"], "no-referrer")

    def test_index_is_served_without_a_token(self):
        r = self.get("/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(r.headers["cache-control"], "no-cache")
        self.assertRegex(r.headers["etag"], r'^"[0-9a-f]{16}"$')
        self.assert_security_headers(r)
        html = r.body.decode()
        with open(os.path.join(ROOT, "web", "index.html"), encoding="utf-8") as f:
            self.assertEqual(html, f.read())  # the embedded copy is the file in the tree
        self.assertIn('src="/ui/app.js"', html)
        # No inline script or style: the CSP would block them.
        self.assertNotRegex(html, r"<script(?![^>]*\bsrc=)[^>]*>")
        self.assertNotIn("<style", html)
        self.assertNotRegex(html, r"\sstyle=")

    def test_app_js_content_type_etag_and_304(self):
        r = self.get("/ui/app.js")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "text/javascript; charset=utf-8")
        self.assertIn("max-age=", r.headers["cache-control"])
        self.assert_security_headers(r)
        with open(os.path.join(ROOT, "web", "app.js"), "rb") as f:
            src = f.read()
        self.assertEqual(r.body, src)
        etag = r.headers["etag"]
        self.assertEqual(etag, '"' + hashlib.sha256(src).hexdigest()[:16] + '"')
        again = self.get("/ui/app.js", **{"If-None-Match": etag})
        self.assertEqual(again.status, 304)
        self.assertEqual(again.body, b"")
        self.assertEqual(again.headers["etag"], etag)
        listed = self.get("/ui/app.js", **{"If-None-Match": f'"0000000000000000", W/{etag}'})
        self.assertEqual(listed.status, 304)
        stale = self.get("/ui/app.js", **{"If-None-Match": '"0000000000000000"'})
        self.assertEqual(stale.status, 200)
        self.assertEqual(stale.body, src)

    def test_gzip_only_when_accepted(self):
        plain = self.get("/ui/vendor/uPlot.iife.min.js")
        self.assertEqual(plain.status, 200, plain)
        self.assertNotIn("content-encoding", plain.headers)
        self.assertIn(b"uPlot", plain.body)
        gz = self.get("/ui/vendor/uPlot.iife.min.js", **{"Accept-Encoding": "br, gzip"})
        self.assertEqual(gz.headers.get("content-encoding"), "gzip")
        self.assertLess(len(gz.body), len(plain.body))
        self.assertEqual(gzip.decompress(gz.body), plain.body)
        self.assertEqual(gz.headers["etag"], plain.headers["etag"])
        refused = self.get("/ui/vendor/uPlot.iife.min.js", **{"Accept-Encoding": "gzip;q=0"})
        self.assertNotIn("content-encoding", refused.headers)

    def test_every_page_module_and_the_vendor_files_are_served(self):
        types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
        web = os.path.join(ROOT, "web")
        for dirpath, _, files in os.walk(web):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), web).replace(os.sep, "/")
                r = self.get("/ui/" + rel)
                self.assertEqual(r.status, 200, rel)
                ext = os.path.splitext(name)[1]
                if ext in types:
                    self.assertEqual(r.headers["content-type"], types[ext], rel)
        self.assertEqual(self.get("/ui/vendor/uPlot.min.css").headers["content-type"], "text/css; charset=utf-8")
        lic = self.get("/ui/vendor/uPlot.LICENSE.txt")
        self.assertEqual(lic.status, 200)
        self.assertIn(b"MIT", lic.body)

    def test_imports_resolve_to_served_files(self):
        # Every relative ES module import of every served module is itself served.
        seen, todo = set(), ["app.js"]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            r = self.get("/ui/" + path)
            self.assertEqual(r.status, 200, path)
            for spec in re.findall(r'^import .* from "(\./[^"]+|\.\./[^"]+)";', r.body.decode(), re.M):
                base = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
                todo.append(os.path.normpath(base + spec).replace(os.sep, "/"))
        self.assertIn("pages/scans.js", seen)

    def test_unknown_files_are_the_json_404_envelope(self):
        for path in ("/ui/nope.js", "/ui/pages/nope.js", "/ui/a/b/c/d", "/ui/..%2Fapp.js", "/ui/%2e%2e/app.js"):
            r = self.get(path)
            self.assertEqual(r.status, 404, path)
            body = r.json()
            self.assertEqual(body["error"]["status_code"], 404)
            self.assertEqual(body["error"]["request_id"], r.headers["x-request-id"])

    def test_api_routes_still_need_a_token(self):
        self.assertEqual(self.get("/posture").status, 401)
        self.assertEqual(self.get("/auth/me").status, 401)
        spec = self.srv.request("GET", "/openapi.json", token=self.srv.token()).json()
        self.assertNotIn("/", spec["paths"])  # the static files are not part of the API document


if __name__ == "__main__":
    unittest.main(verbosity=2)
