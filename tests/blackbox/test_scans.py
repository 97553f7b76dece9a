"""Black-box test of the assurance pipeline: a real git repository scanned through the API while
WebSocket clients watch, a bundle that `secplat verify` and `openssl dgst -verify` accept, and the
findings it produced visible through the API."""
import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import unittest

import websockets

sys.path.insert(0, os.path.dirname(__file__))
from harness import BINARY, Server, wait_for  # noqa: E402


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
                            GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid"))


def make_repo(root):
    """A bare repository with one commit holding a planted credential and a lockfile."""
    work = os.path.join(root, "work")
    bare = os.path.join(root, "repo.git")
    os.makedirs(work)
    git("init", "-q", "-b", "main", cwd=work)
    # Built at run time so this test file holds no credential-shaped literal.
    key_id = "AKIA" + "QYLPMN5HHHFPZAM2"
    with open(os.path.join(work, "settings.py"), "w") as f:
        f.write(f'AWS_ACCESS_KEY_ID = "{key_id}"\nDEBUG = False\n')
    with open(os.path.join(work, "package-lock.json"), "w") as f:
        json.dump({"name": "demo", "lockfileVersion": 3, "packages": {
            "": {"name": "demo", "dependencies": {"lodash": "4.17.20"}},
            "node_modules/lodash": {"version": "4.17.20"}}}, f)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    git("clone", "-q", "--bare", work, bare, cwd=root)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, check=True, capture_output=True,
                         text=True).stdout.strip()
    return bare, sha, key_id


async def watch(url, token, since=None, timeout=60):
    """Every event of a scan's stream, until the server closes it."""
    target = f"{url}?access_token={token}" + (f"&since={since}" if since is not None else "")
    events = []
    async with websockets.connect(target, open_timeout=10, max_size=None) as ws:
        try:
            while True:
                msg = await asyncio.wait_for(ws.recv(), timeout)
                events.append(json.loads(msg))
        except websockets.ConnectionClosed as closed:
            return events, closed.code


class ScanEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="secplat-scan-bb-")
        cls.bare, cls.sha, cls.key_id = make_repo(cls.tmp.name)
        cls.srv = Server(env={"SECPLAT_ALLOWED_SOURCE_ROOTS": cls.tmp.name}).start()
        cls.token = cls.srv.token()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()
        cls.tmp.cleanup()

    def submit(self, **overrides):
        body = {"workspace_id": "ws-1", "component_id": "demo-repo", "assessment_id": "assess-1",
                "source_type": "git", "git_url": "file://" + self.bare, "branch": "main",
                "manifest": {"profiles": [{"name": "light", "tools": ["secrets", "sbom"],
                                           "thresholds": {"critical": 0}}]}}
        body.update(overrides)
        return self.srv.request("POST", "/v1/security-scans", body=body, token=self.token)

    def test_git_scan_streams_signs_and_yields_findings(self):
        r = self.submit()
        self.assertEqual(r.status, 202, r)
        scan = r.json()
        self.assertRegex(scan["test_id"], r"^test_[0-9a-f]{12}$")
        self.assertEqual(scan["stream_url"], f"/v1/security-scans/{scan['test_id']}/stream")
        ws_url = f"ws://127.0.0.1:{self.srv.port}{scan['stream_url']}"

        async def three_watchers():
            return await asyncio.gather(*(watch(ws_url, self.token) for _ in range(3)))

        results = asyncio.run(three_watchers())
        for events, code in results:
            self.assertEqual(code, 1000)
            seqs = [e["seq"] for e in events]
            # A watcher may join after the first events: it gets the rest, each once, in order.
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
            self.assertEqual(events[-1]["type"], "scan_complete")
            self.assertIsInstance(events[-1]["timestamp"], float)
        # A late subscriber with since=0 gets the whole history, then the close.
        late, code = asyncio.run(watch(ws_url, self.token, since=0))
        self.assertEqual([e["seq"] for e in late], list(range(1, len(late) + 1)))
        self.assertEqual(late[-1]["type"], "scan_complete")
        self.assertEqual({e["type"] for e in late} >= {"phase", "tool_start", "tool_complete", "scan_complete"}, True)
        self.assertNotIn(self.key_id, json.dumps(late))  # secrets never travel in the log

        # scan_complete is sent only once the record is final.
        status = self.srv.request("GET", f"/v1/security-scans/{scan['test_id']}", token=self.token).json()
        self.assertEqual(status["status"], "SUCCEEDED", status)
        self.assertEqual(status["source"]["resolved_commit"], self.sha)
        self.assertFalse(status["policy_passed"])  # the planted key is a critical finding

        # The bundle: download, verify with the served public key, and with openssl directly.
        pem = self.srv.request("GET", "/v1/keys/signing.pem", token=self.token)
        self.assertEqual(pem.status, 200)
        tgz = self.srv.request("GET", f"/v1/security-scans/{scan['test_id']}/artifacts", token=self.token)
        self.assertEqual(tgz.status, 200, tgz)
        with tempfile.TemporaryDirectory() as out:
            with tarfile.open(fileobj=io.BytesIO(tgz.body), mode="r:gz") as tar:
                for m in tar.getmembers():  # what we serve must be plain files under one root
                    self.assertTrue(m.isfile() or m.isdir(), m.name)
                    self.assertFalse(m.name.startswith("/") or ".." in m.name.split("/"), m.name)
                tar.extractall(out)
            bundle = os.path.join(out, scan["test_id"]) if os.path.isdir(os.path.join(out, scan["test_id"])) else out
            pub = os.path.join(out, "signing.pub")
            with open(pub, "wb") as f:
                f.write(pem.body)
            v = subprocess.run([BINARY, "verify", bundle, "--key", pub], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
            with open(os.path.join(bundle, "manifest.sig")) as f:
                sig = base64.b64decode(f.read())
            der = os.path.join(out, "manifest.sig.der")
            with open(der, "wb") as f:
                f.write(sig)
            o = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", der,
                                os.path.join(bundle, "manifest.json")], capture_output=True, text=True)
            self.assertEqual(o.returncode, 0, o.stdout + o.stderr)
            for rel in ("scan.json", "summary.json", "policy-result.json", "reports/secrets/secrets.sarif.json",
                        "reports/sbom/sbom.cyclonedx.json", "reports/sbom/sbom.spdx.json",
                        "reports/signing/attestation.intoto.json", "logs/runner.log", "stream.jsonl"):
                self.assertTrue(os.path.isfile(os.path.join(bundle, rel)), rel)
            # SARIF and CycloneDX validate against the official schemas (from npm, checked by ajv);
            # SPDX against the 2.3 specification's mandatory fields and cross-references.
            prefix = os.path.join(os.getcwd(), "npm-bundle-schemas")
            s = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "validate_bundle.js"), bundle, prefix],
                               capture_output=True, text=True, timeout=240)
            self.assertEqual(s.returncode, 0, s.stdout + s.stderr)
            self.assertIn("SARIF 2.1.0 schema: reports/secrets/secrets.sarif.json", s.stdout)
            self.assertIn("ok   CycloneDX 1.5 schema: reports/sbom/sbom.cyclonedx.json", s.stdout)
            self.assertIn("ok   SPDX 2.3 mandatory fields: reports/sbom/sbom.spdx.json", s.stdout)
            with open(os.path.join(bundle, "reports/secrets/secrets.sarif.json")) as f:
                sarif_text = f.read()
            self.assertNotIn(self.key_id, sarif_text)
            sarif = json.loads(sarif_text)
            self.assertEqual(sarif["version"], "2.1.0")
            results = sarif["runs"][0]["results"]
            self.assertTrue(results)
            self.assertTrue(all(r.get("partialFingerprints") for r in results))
            # Tampering is caught.
            with open(os.path.join(bundle, "summary.json"), "a") as f:
                f.write(" ")
            v = subprocess.run([BINARY, "verify", bundle, "--key", pub], capture_output=True, text=True)
            self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
            self.assertIn("summary.json", v.stdout + v.stderr)

        # One file through the API, with an ETag; traversal refused.
        one = self.srv.request("GET", f"/v1/security-scans/{scan['test_id']}/artifacts/summary.json",
                               token=self.token)
        self.assertEqual(one.status, 200)
        self.assertIn("etag", one.headers)
        again = self.srv.request("GET", f"/v1/security-scans/{scan['test_id']}/artifacts/summary.json",
                                 token=self.token, headers={"If-None-Match": one.headers["etag"]})
        self.assertEqual(again.status, 304)
        bad = self.srv.request("GET", f"/v1/security-scans/{scan['test_id']}/artifacts/..%2F..%2Fsecplat.db",
                               token=self.token)
        self.assertIn(bad.status, (400, 404))

        # The SARIF result became a finding on the component's asset.
        findings = self.srv.request("GET", "/findings/?asset_key=demo-repo", token=self.token)
        self.assertEqual(findings.status, 200, findings)
        items = findings.json()
        self.assertTrue(any("AWS" in (f.get("title") or "") for f in items), items)
        self.assertNotIn(self.key_id, findings.body.decode())

    def test_validation_messages_are_the_references(self):
        r = self.submit(git_url=None)
        self.assertEqual(r.status, 422, r)
        self.assertIn("git_url is required when source_type='git'", json.dumps(r.json()))
        r = self.submit(manifest=None)
        self.assertEqual(r.status, 422, r)
        self.assertIn("Provide one of 'manifest', 'manifest_path', or 'manifest_uri'", json.dumps(r.json()))
        r = self.submit(source_type="ftp")
        self.assertEqual(r.status, 422, r)
        self.assertIn("Invalid source_type: 'ftp'", json.dumps(r.json()))

    def test_bad_repository_fails_with_a_reason(self):
        r = self.submit(git_url="file://" + self.tmp.name + "/does-not-exist.git")
        if r.status == 422:
            return  # refused at submit time is fine too
        self.assertEqual(r.status, 202, r)
        tid = r.json()["test_id"]
        final = wait_for(lambda: (lambda s: s if s["status"] in ("FAILED", "SUCCEEDED") else None)(
            self.srv.request("GET", f"/v1/security-scans/{tid}", token=self.token).json()), timeout=60,
            what="scan to finish")
        self.assertEqual(final["status"], "FAILED")
        self.assertTrue(final["errors"])

    def test_unknown_scan_and_anonymous_stream(self):
        r = self.srv.request("GET", "/v1/security-scans/test_000000000000", token=self.token)
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["message"], "Scan not found")

        async def unknown():
            url = f"ws://127.0.0.1:{self.srv.port}/v1/security-scans/test_000000000000/stream"
            return await watch(url, self.token, timeout=10)

        events, code = asyncio.run(unknown())
        self.assertEqual(events, [])
        self.assertEqual(code, 4404)
        anon = self.srv.request("GET", "/v1/security-scans/test_000000000000/stream")
        self.assertEqual(anon.status, 401)

    def test_workspace_grants_confine_non_admins(self):
        admin = self.token
        for name, role in (("ana", "analyst"), ("vic", "viewer")):
            r = self.srv.request("POST", "/auth/users", token=admin,
                                 body={"username": name, "role": role, "password": "correct-horse-9"})
            self.assertEqual(r.status, 201, r)
        ana = self.srv.token("ana", "correct-horse-9")
        vic = self.srv.token("vic", "correct-horse-9")
        # No grant, no access: an analyst without grants can submit nowhere and sees nothing.
        r = self.submit(workspace_id="ws-ana")
        other = r.json()["test_id"]  # submitted by the admin, in ws-ana before any grant
        r = self.srv.request("POST", "/v1/security-scans", token=ana, body={
            "workspace_id": "ws-ana", "component_id": "c", "assessment_id": "a", "source_type": "git",
            "git_url": "file://" + self.bare, "branch": "main", "manifest": {"profiles": [{"name": "light"}]}})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["error"]["message"], "no grant for workspace 'ws-ana'")
        self.assertEqual(self.srv.request("GET", "/v1/security-scans", token=ana).json()["total"], 0)
        self.assertEqual(self.srv.request("GET", f"/v1/security-scans/{other}", token=ana).status, 404)
        self.assertEqual(self.srv.request("GET", "/stats", token=ana).json()["total_scans"], 0)

        r = self.srv.request("PUT", "/auth/users/ana/workspaces", token=admin, body={"workspaces": ["ws-ana"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"username": "ana", "workspaces": ["ws-ana"]})
        bad = self.srv.request("PUT", "/auth/users/ana/workspaces", token=admin, body={"workspaces": ["a b"]})
        self.assertEqual(bad.status, 422, bad)
        self.assertEqual(self.srv.request("PUT", "/auth/users/ana/workspaces", token=ana,
                                          body={"workspaces": ["*"]}).status, 403)
        me = self.srv.request("GET", "/auth/me", token=ana).json()
        self.assertEqual(me["workspaces"], ["ws-ana"])
        self.assertEqual(self.srv.request("GET", "/auth/me", token=admin).json()["workspaces"], ["*"])

        # Now ana sees ws-ana (the admin's scan too) and nothing of ws-1.
        self.submit(workspace_id="ws-1")
        listed = self.srv.request("GET", "/v1/security-scans?limit=500", token=ana).json()
        self.assertGreaterEqual(listed["total"], 1)
        self.assertEqual({s["workspace_id"] for s in listed["items"]}, {"ws-ana"})
        self.assertEqual(listed["total"], len(listed["items"]))
        self.assertEqual(self.srv.request("GET", "/stats", token=ana).json()["total_scans"], listed["total"])
        self.assertGreater(self.srv.request("GET", "/stats", token=admin).json()["total_scans"], listed["total"])
        self.assertEqual(self.srv.request("GET", f"/v1/security-scans/{other}", token=ana).status, 200)
        ws1 = self.srv.request("GET", "/v1/security-scans?workspace_id=ws-1", token=admin).json()["items"][0]
        self.assertEqual(self.srv.request("GET", f"/v1/security-scans/{ws1['test_id']}", token=ana).status, 404)
        self.assertEqual(self.srv.request("POST", f"/v1/security-scans/{ws1['test_id']}/cancel",
                                          token=ana).status, 404)

        async def foreign_stream():
            url = f"ws://127.0.0.1:{self.srv.port}/v1/security-scans/{ws1['test_id']}/stream"
            return await watch(url, ana, timeout=10)

        events, code = asyncio.run(foreign_stream())
        self.assertEqual((events, code), ([], 4404))

        # "*" gives a viewer every workspace; the audit log records the grant changes.
        r = self.srv.request("PUT", "/auth/users/vic/workspaces", token=admin, body={"workspaces": ["*"]})
        self.assertEqual(r.status, 200, r)
        everything = self.srv.request("GET", "/v1/security-scans?limit=500", token=admin).json()["total"]
        self.assertEqual(self.srv.request("GET", "/v1/security-scans?limit=500", token=vic).json()["total"],
                         everything)
        audit = self.srv.request("GET", "/audit?action=user.workspaces", token=admin).json()
        self.assertTrue(any(e.get("details", {}).get("username") == "ana" for e in audit["items"]), audit)

        # An API key has its own grants.
        key = self.srv.request("POST", "/auth/api-keys", token=admin, body={"name": "ci", "role": "analyst"}).json()
        self.assertEqual(self.srv.request("GET", "/v1/security-scans", token=key["key"]).json()["total"], 0)
        r = self.srv.request("PUT", f"/auth/api-keys/{key['id']}/workspaces", token=admin,
                             body={"workspaces": ["ws-1"]})
        self.assertEqual(r.json(), {"api_key": "ci", "workspaces": ["ws-1"]})
        listed = self.srv.request("GET", "/v1/security-scans?limit=500", token=key["key"]).json()
        self.assertEqual({s["workspace_id"] for s in listed["items"]}, {"ws-1"})

        # A new user with a deleted user's name starts without grants.
        self.assertEqual(self.srv.request("DELETE", "/auth/users/ana", token=admin).status, 200)
        self.assertEqual(self.srv.request("POST", "/auth/users", token=admin, body={
            "username": "ana", "role": "analyst", "password": "correct-horse-9"}).status, 201)
        self.assertEqual(self.srv.request("GET", "/auth/users/ana/workspaces", token=admin).json(),
                         {"username": "ana", "workspaces": []})
        self.assertEqual(self.srv.request("GET", "/auth/users/nobody/workspaces", token=admin).status, 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
