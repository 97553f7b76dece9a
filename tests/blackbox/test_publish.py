"""Black-box test of verification-first publishing: a scan's bundle goes through the trust gate to
S3 (s3rver) and an OCI registry (docker-registry), is read back by independent clients (boto3,
skopeo, openssl), is promoted to golden with a signed verification summary, and its permit is in
the transparency log with an inclusion proof `secplat verify --entry` accepts. A bundle tampered
after signing is denied and leaves both stores untouched; a gate that cannot be reached publishes
nothing."""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

import boto3
from botocore.config import Config as BotoConfig

sys.path.insert(0, os.path.dirname(__file__))
from harness import BINARY, Server, free_port, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(HERE, "..", "support")
REPO = "secplat/scans"


def control(script, cmd, d):
    subprocess.run([os.path.join(SUPPORT, script), cmd, d], check=True, capture_output=True, timeout=300)
    with open(os.path.join(d, "url")) as f:
        return f.read().strip() if cmd == "start" else None


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def dsse_pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


class PublishTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="secplat-publish-")
        cls.s3_dir = os.path.join(cls.tmp.name, "s3")
        cls.oci_dir = os.path.join(cls.tmp.name, "oci")
        cls.s3_url = control("s3rver_test_server.sh", "start", cls.s3_dir)
        cls.oci_url = control("registry_test_server.sh", "start", cls.oci_dir)
        cls.registry = cls.oci_url.split("://", 1)[1]
        cls.s3 = boto3.client("s3", endpoint_url=cls.s3_url, aws_access_key_id="S3RVER",
                              aws_secret_access_key="S3RVER", region_name="us-east-1",
                              config=BotoConfig(s3={"addressing_style": "path"}, signature_version="s3v4"))
        cls.src = os.path.join(cls.tmp.name, "src")
        os.makedirs(cls.src)
        with open(os.path.join(cls.src, "app.py"), "w") as f:
            f.write("print('hello')\n")
        with open(os.path.join(cls.src, "package-lock.json"), "w") as f:
            json.dump({"name": "demo", "lockfileVersion": 3, "packages": {
                "": {"name": "demo", "dependencies": {"left-pad": "1.3.0"}},
                "node_modules/left-pad": {"version": "1.3.0"}}}, f)
        # Manifest signers: a key of the "security team" (openssl) and the instance key (pre-made,
        # so its public half can be trusted from the first start).
        cls.team_key = os.path.join(cls.tmp.name, "team.key")
        cls.team_pub = os.path.join(cls.tmp.name, "team.pub")
        subprocess.run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", cls.team_key],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "ec", "-in", cls.team_key, "-pubout", "-out", cls.team_pub],
                       check=True, capture_output=True)
        cls.srv = Server(env={
            "SECPLAT_ALLOWED_SOURCE_ROOTS": cls.tmp.name,
            "SECPLAT_S3_ENDPOINT": cls.s3_url, "SECPLAT_S3_ACCESS_KEY_ID": "S3RVER",
            "SECPLAT_S3_SECRET_ACCESS_KEY": "S3RVER",
            "SECPLAT_OCI_REGISTRY": cls.registry, "SECPLAT_OCI_INSECURE": "true",
            "SECPLAT_OCI_REPOSITORY": REPO,
            "SECPLAT_ASSURANCE_MANIFEST_S3_BUCKETS": "test",
            "SECPLAT_ASSURANCE_MANIFEST_OCI_REPOSITORIES": REPO})
        keys = os.path.join(cls.srv.data_dir, "keys")
        subprocess.run([BINARY, "keygen", "--out", keys], check=True, capture_output=True)
        cls.srv.env["SECPLAT_ASSURANCE_TRUSTED_MANIFEST_KEYS"] = cls.team_pub + ":" + os.path.join(keys, "signing.pub")
        cls.srv.start()
        cls.token = cls.srv.token()
        cls.pub = cls.srv.request("GET", "/v1/keys/signing.pem", token=cls.token).body
        cls.pub_file = os.path.join(cls.tmp.name, "signing.pem")
        with open(cls.pub_file, "wb") as f:
            f.write(cls.pub)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.close()
        finally:
            for script, d in (("s3rver_test_server.sh", cls.s3_dir), ("registry_test_server.sh", cls.oci_dir)):
                subprocess.run([os.path.join(SUPPORT, script), "stop", d], capture_output=True)
            cls.tmp.cleanup()

    def scan(self, srv=None, token=None):
        srv = srv or self.srv
        token = token or self.token
        r = srv.request("POST", "/v1/security-scans", token=token, body={
            "workspace_id": "ws-1", "component_id": "demo", "assessment_id": "a-1",
            "source_type": "directory", "directory_path": self.src,
            "manifest": {"profiles": [{"name": "light", "tools": ["secrets", "sbom"]}]}})
        self.assertEqual(r.status, 202, r)
        test_id = r.json()["test_id"]
        wait_for(lambda: srv.request("GET", f"/v1/security-scans/{test_id}", token=token).json()["status"]
                 in ("SUCCEEDED", "FAILED"), timeout=60, what="scan end")
        rec = srv.request("GET", f"/v1/security-scans/{test_id}", token=token).json()
        self.assertEqual(rec["status"], "SUCCEEDED", rec)
        return test_id

    def upload(self, test_id, srv=None, token=None, until=("uploaded",), body=None):
        srv = srv or self.srv
        token = token or self.token
        r = srv.request("POST", f"/v1/security-scans/{test_id}/upload-request", token=token,
                        body={} if body is None else body)
        self.assertEqual(r.status, 202, r)
        self.assertIn(r.json()["upload_status"], ("requested",) + tuple(until))
        done = ("uploaded", "denied", "trust_unavailable", "upload_failed")
        wait_for(lambda: srv.request("GET", f"/v1/security-scans/{test_id}", token=token).json()["upload_status"]
                 in done, timeout=60, what="upload end")
        return srv.request("GET", f"/v1/security-scans/{test_id}", token=token).json()

    def raw_keys(self, test_id, bucket="raw", stage="incoming"):
        prefix = f"security-scans/{test_id}/{stage}/"
        out = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return {o["Key"][len(prefix):] for o in out.get("Contents", [])}

    def bundle_files(self, test_id):
        root = os.path.join(self.srv.data_dir, "bundles", test_id)
        files = {}
        for d, _, names in os.walk(root):
            for n in names:
                p = os.path.join(d, n)
                with open(p, "rb") as f:
                    files[os.path.relpath(p, root)] = f.read()
        return files

    def skopeo(self, *args):
        return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)

    def test_scan_to_raw_golden_and_oci_verified_by_independent_clients(self):
        test_id = self.scan()
        rec = self.upload(test_id, body={"tier": "verified", "requested_by": "alice"})
        self.assertEqual(rec["upload_status"], "uploaded", rec)
        self.assertTrue(rec["upload_permission_id"])
        proof = rec["verification_proof"]
        self.assertTrue(proof["chain_verified"] and proof["inner_signature_valid"])

        # S3 raw, read back with boto3: every bundle file, byte for byte, with its metadata.
        files = self.bundle_files(test_id)
        keys = self.raw_keys(test_id)
        self.assertEqual(keys, set(files) | {"verification-proof.json"})
        for rel, content in files.items():
            obj = self.s3.get_object(Bucket="raw", Key=f"security-scans/{test_id}/incoming/{rel}")
            self.assertEqual(sha256(obj["Body"].read()), sha256(content), rel)
            self.assertEqual(obj["Metadata"]["test_id"], test_id)
            self.assertEqual(obj["Metadata"]["workspace_id"], "ws-1")
        self.assertEqual(set(rec["remote_artifacts"]["raw"]), set(files) | {"verification-proof.json"})
        self.assertEqual(self.raw_keys(test_id, "golden", "golden"), set())  # promotion is a separate step

        # Idempotent: asking again neither re-permits nor re-uploads.
        again = self.srv.request("POST", f"/v1/security-scans/{test_id}/upload-request", token=self.token, body={})
        self.assertEqual(again.status, 202)
        self.assertEqual(again.json(), {"upload_permission_id": rec["upload_permission_id"],
                                        "upload_status": "uploaded"})

        # OCI: the artifact by digest, read with skopeo; every layer is a bundle file.
        oci = rec["registry"]
        self.assertTrue(oci["reference"].startswith(f"{self.registry}/{REPO}@sha256:"), oci)
        raw = self.skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{oci['reference']}")
        self.assertEqual(raw.returncode, 0, raw.stderr)
        self.assertEqual("sha256:" + sha256(raw.stdout.encode()), oci["digest"])
        manifest = json.loads(raw.stdout)
        layers = {l["annotations"]["org.opencontainers.image.title"]: l["digest"] for l in manifest["layers"]}
        attested = {k: v for k, v in files.items() if k != "reports/signing/attestation.intoto.json"}
        self.assertEqual(layers, {k: "sha256:" + sha256(v) for k, v in attested.items()})
        tags = json.loads(self.skopeo("list-tags", "--tls-verify=false", f"docker://{self.registry}/{REPO}").stdout)
        hexd = oci["digest"].split(":", 1)[1]
        self.assertIn(test_id, tags["Tags"])
        self.assertIn(f"sha256-{hexd}.sig", tags["Tags"])
        self.assertIn(f"sha256-{hexd}.att", tags["Tags"])

        # Promotion: golden objects re-verified and copied, plus a VSA openssl accepts.
        promoted = self.srv.request("POST", f"/v1/security-scans/{test_id}/promote", token=self.token)
        self.assertEqual(promoted.status, 202, promoted)
        self.assertIn(promoted.json()["promotion"]["status"], ("requested", "promoted"))
        wait_for(lambda: (self.srv.request("GET", f"/v1/security-scans/{test_id}", token=self.token).json()
                          ["promotion"] or {}).get("status") == "promoted", timeout=30, what="promotion")
        golden = self.raw_keys(test_id, "golden", "golden")
        self.assertEqual(golden, set(files) | {"verification-proof.json", "vsa.intoto.json"})
        for rel, content in files.items():
            obj = self.s3.get_object(Bucket="golden", Key=f"security-scans/{test_id}/golden/{rel}")
            self.assertEqual(sha256(obj["Body"].read()), sha256(content), rel)
        vsa = json.loads(self.s3.get_object(Bucket="golden", Key=f"security-scans/{test_id}/golden/vsa.intoto.json")
                         ["Body"].read())
        payload = base64.b64decode(vsa["payload"])
        statement = json.loads(payload)
        self.assertEqual(statement["predicateType"], "https://slsa.dev/verification_summary/v1")
        self.assertEqual(statement["predicate"]["verificationResult"], "PASSED")
        pae = os.path.join(self.tmp.name, "vsa.pae")
        sig = os.path.join(self.tmp.name, "vsa.sig")
        with open(pae, "wb") as f:
            f.write(dsse_pae(vsa["payloadType"], payload))
        with open(sig, "wb") as f:
            f.write(base64.b64decode(vsa["signatures"][0]["sig"]))
        ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", self.pub_file, "-signature", sig, pae],
                            capture_output=True, text=True)
        self.assertIn("Verified OK", ok.stdout, ok.stderr)

        # The permit in the transparency log, proven offline by `secplat verify --entry`.
        entry_id = proof["rekor_entry_uuid"]
        e = self.srv.request("GET", f"/v1/transparency/{entry_id}?include_proof=true", token=self.token)
        self.assertEqual(e.status, 200, e)
        entry = e.json()
        self.assertEqual(entry["kind"], "permit")
        self.assertEqual(entry["subject"], "scan:" + test_id)
        path = os.path.join(self.tmp.name, "entry.json")
        with open(path, "w") as f:
            json.dump(entry, f)
        v = subprocess.run([BINARY, "verify", "--entry", path, "--key", self.pub_file], capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        entry["body"]["claims"]["scan_id"] = "test_000000000000"
        with open(path, "w") as f:
            json.dump(entry, f)
        v = subprocess.run([BINARY, "verify", "--entry", path, "--key", self.pub_file], capture_output=True, text=True)
        self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
        listing = self.srv.request("GET", f"/v1/transparency?subject=scan:{test_id}", token=self.token).json()
        self.assertEqual({x["kind"] for x in listing["entries"]}, {"signature", "permit"})
        self.assertGreaterEqual(listing["checkpoint"]["tree_size"], 2)

    def test_tampered_bundle_is_denied_and_nothing_is_written(self):
        test_id = self.scan()
        summary = os.path.join(self.srv.data_dir, "bundles", test_id, "summary.json")
        with open(summary, "a") as f:
            f.write(" ")
        rec = self.upload(test_id)
        self.assertEqual(rec["upload_status"], "denied", rec)
        self.assertEqual(rec["upload_error"]["reason"], "digest_mismatch")
        self.assertIn("summary.json", rec["upload_error"]["detail"])
        self.assertIsNone(rec["upload_permission_id"])
        self.assertEqual(self.raw_keys(test_id), set())
        tags = self.skopeo("list-tags", "--tls-verify=false", f"docker://{self.registry}/{REPO}")
        if tags.returncode == 0:
            self.assertNotIn(test_id, json.loads(tags.stdout)["Tags"])
        promoted = self.srv.request("POST", f"/v1/security-scans/{test_id}/promote", token=self.token)
        self.assertEqual(promoted.status, 409, promoted)

    def test_manifests_from_s3_and_from_a_published_oci_artifact(self):
        manifest = json.dumps({"profiles": [{"name": "light", "tools": ["secrets"]}]}).encode()
        mfile = os.path.join(self.tmp.name, "light.json")
        with open(mfile, "wb") as f:
            f.write(manifest)
        sig = base64.b64encode(subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.team_key, mfile],
                                              check=True, capture_output=True).stdout)
        self.s3.put_object(Bucket="test", Key="manifests/light.json", Body=manifest)
        self.s3.put_object(Bucket="test", Key="manifests/light.sig", Body=sig)
        self.s3.put_object(Bucket="test", Key="manifests/forged.sig", Body=base64.b64encode(b"0" * 70))
        body = {"workspace_id": "ws-1", "component_id": "demo", "assessment_id": "a-1",
                "source_type": "directory", "directory_path": self.src}

        def run(**extra):
            r = self.srv.request("POST", "/v1/security-scans", token=self.token, body=dict(body, **extra))
            self.assertEqual(r.status, 202, r)
            tid = r.json()["test_id"]
            wait_for(lambda: self.srv.request("GET", f"/v1/security-scans/{tid}", token=self.token).json()["status"]
                     in ("SUCCEEDED", "FAILED"), timeout=60, what="scan end")
            return self.srv.request("GET", f"/v1/security-scans/{tid}", token=self.token).json()

        rec = run(manifest_uri="s3://test/manifests/light.json", manifest_signature_uri="s3://test/manifests/light.sig")
        self.assertEqual(rec["status"], "SUCCEEDED", rec)
        self.assertIn("secrets", json.dumps(rec["tools"]))
        self.assertNotIn("sbom", json.dumps(rec["tools"]))  # the S3 manifest's profile, not the default
        self.assertEqual(rec["manifest_digest"], sha256(manifest))
        rec = run(manifest_uri="s3://test/manifests/light.json", manifest_signature_uri="s3://test/manifests/forged.sig")
        self.assertEqual(rec["status"], "FAILED", rec)
        self.assertIn("does not verify", json.dumps(rec["errors"]))

        # A published bundle carries manifest.json and manifest.sig as titled layers: a later scan
        # can take its manifest from there, signature verified against the instance key.
        first = self.scan()
        up = self.upload(first)
        self.assertEqual(up["upload_status"], "uploaded", up)
        ref = f"oci://{self.registry}/{REPO}:{first}"
        rec = run(manifest_uri=ref, manifest_signature_uri=ref + "#manifest.sig")
        self.assertEqual(rec["status"], "SUCCEEDED", rec)
        first_files = self.bundle_files(first)
        self.assertEqual(rec["manifest_digest"], sha256(first_files["manifest.json"]))

        # Outside the allow-lists: 422 naming the field and the reason, nothing queued.
        for uri, why in (("s3://raw/security-scans/x/incoming/manifest.json", "manifest_s3_buckets"),
                         (f"oci://{self.registry}/other/repo:tag", "manifest_oci_repositories"),
                         (f"oci://registry.example.com/{REPO}:tag", "is not oci.registry")):
            r = self.srv.request("POST", "/v1/security-scans", token=self.token,
                                 body=dict(body, manifest_uri=uri, manifest_signature_uri=uri))
            self.assertEqual(r.status, 422, r)
            self.assertIn(why, json.dumps(r.json()))

    def test_bad_requests_are_named(self):
        test_id = self.scan()
        r = self.srv.request("POST", f"/v1/security-scans/{test_id}/upload-request", token=self.token,
                             body={"tier": "gold"})
        self.assertEqual(r.status, 422, r)
        self.assertIn("tier", json.dumps(r.json()))
        r = self.srv.request("POST", "/v1/security-scans/test_000000000000/upload-request", token=self.token, body={})
        self.assertEqual(r.status, 404, r)
        r = self.srv.request("POST", "/v1/verify-and-permit-upload", token=self.token, body={"scan_id": test_id})
        self.assertEqual(r.status, 422, r)
        r = self.srv.request("POST", "/v1/verify-and-permit-upload", body={"scan_id": test_id})
        self.assertEqual(r.status, 401, r)
        r = self.srv.request("GET", "/v1/transparency/no-such-entry", token=self.token)
        self.assertEqual(r.status, 404, r)

    def test_remote_gate_over_http_with_an_api_key(self):
        """The publisher talks to a gate in another process (trust.url + trust.api_key): that gate
        trusts this instance's key only because it is configured to, and its permits are spent
        there, once."""
        data = os.path.join(self.tmp.name, "remote-data")
        keys = os.path.join(data, "keys")
        k = subprocess.run([BINARY, "keygen", "--out", keys], capture_output=True, text=True)
        self.assertEqual(k.returncode, 0, k.stderr)
        der = subprocess.run(["openssl", "pkey", "-pubin", "-in", os.path.join(keys, "signing.pub"), "-outform", "DER"],
                             capture_output=True, check=True).stdout
        gate = Server(env={"SECPLAT_TRUST_TRUSTED_KEYS": os.path.join(keys, "signing.pub"),
                           "SECPLAT_TRUST_VERIFIED_SIGNERS": sha256(der)}).start()
        try:
            admin = gate.token()
            r = gate.request("POST", "/auth/api-keys", body={"name": "publisher", "role": "analyst"}, token=admin)
            self.assertEqual(r.status, 201, r)
            api_key = r.json()["key"]
            env = {"SECPLAT_ALLOWED_SOURCE_ROOTS": self.tmp.name,
                   "SECPLAT_TRUST_URL": f"http://127.0.0.1:{gate.port}", "SECPLAT_TRUST_API_KEY": api_key,
                   "SECPLAT_TRUST_AUTO_PROMOTE": "true",
                   "SECPLAT_S3_ENDPOINT": self.s3_url, "SECPLAT_S3_ACCESS_KEY_ID": "S3RVER",
                   "SECPLAT_S3_SECRET_ACCESS_KEY": "S3RVER"}
            srv = Server(env=env, data_dir=data).start()
            try:
                token = srv.token()
                test_id = self.scan(srv, token)
                rec = self.upload(test_id, srv, token)
                self.assertEqual(rec["upload_status"], "uploaded", rec)
                files = set(self.bundle_files_of(srv, test_id))
                self.assertEqual(self.raw_keys(test_id), files | {"verification-proof.json"})
                # trust.auto_promote: golden follows without a promote call.
                wait_for(lambda: self.raw_keys(test_id, "golden", "golden") ==
                         files | {"verification-proof.json", "vsa.intoto.json"}, timeout=30, what="auto promotion")
                # The permit lives in the gate's log, not the publisher's.
                entry_id = rec["verification_proof"]["rekor_entry_uuid"]
                self.assertEqual(gate.request("GET", f"/v1/transparency/{entry_id}", token=admin).status, 200)
                self.assertEqual(srv.request("GET", f"/v1/transparency/{entry_id}", token=token).status, 404)
            finally:
                srv.close()
            # Without the API key the gate refuses, and the publisher stops there (nothing written).
            env["SECPLAT_TRUST_API_KEY"] = "wrong"
            srv = Server(env=env, data_dir=data).start()
            try:
                token = srv.token()
                test_id = self.scan(srv, token)
                rec = self.upload(test_id, srv, token)
                self.assertEqual(rec["upload_status"], "denied", rec)
                self.assertIn("401", rec["upload_error"]["detail"])
                self.assertEqual(self.raw_keys(test_id), set())
            finally:
                srv.close()
        finally:
            gate.close()

    def bundle_files_of(self, srv, test_id):
        root = os.path.join(srv.data_dir, "bundles", test_id)
        return {os.path.relpath(os.path.join(d, n), root) for d, _, names in os.walk(root) for n in names}

    def test_promotion_refuses_a_raw_object_changed_after_upload(self):
        test_id = self.scan()
        rec = self.upload(test_id)
        self.assertEqual(rec["upload_status"], "uploaded", rec)
        self.s3.put_object(Bucket="raw", Key=f"security-scans/{test_id}/incoming/summary.json", Body=b"{}")
        r = self.srv.request("POST", f"/v1/security-scans/{test_id}/promote", token=self.token)
        self.assertEqual(r.status, 202, r)
        wait_for(lambda: (self.srv.request("GET", f"/v1/security-scans/{test_id}", token=self.token).json()
                          ["promotion"] or {}).get("status") == "failed", timeout=30, what="promotion refused")
        rec = self.srv.request("GET", f"/v1/security-scans/{test_id}", token=self.token).json()
        self.assertIn("summary.json", rec["promotion"]["detail"])
        self.assertIn("does not match its permitted sha256", rec["promotion"]["detail"])
        self.assertEqual(self.raw_keys(test_id, "golden", "golden"), set())
        # An analyst may not promote (admin only).
        self.srv.request("POST", "/auth/users", token=self.token,
                         body={"username": "ana", "password": "analyst-password-1", "role": "analyst"})
        ana = self.srv.token("ana", "analyst-password-1")
        self.assertEqual(self.srv.request("POST", f"/v1/security-scans/{test_id}/promote", token=ana).status, 403)

    def test_storage_failures_end_in_upload_failed_and_leave_nothing_half_written(self):
        # S3 down: retried, then upload_failed naming S3; nothing reaches the registry either.
        test_id = self.scan()
        subprocess.run([os.path.join(SUPPORT, "s3rver_test_server.sh"), "pause", self.s3_dir], check=True,
                       capture_output=True)
        try:
            rec = self.upload(test_id)
        finally:
            subprocess.run([os.path.join(SUPPORT, "s3rver_test_server.sh"), "resume", self.s3_dir], check=True,
                           capture_output=True)
        self.assertEqual(rec["upload_status"], "upload_failed", rec)
        self.assertEqual(rec["upload_error"]["reason"], "s3_failed")
        tags = self.skopeo("list-tags", "--tls-verify=false", f"docker://{self.registry}/{REPO}")
        if tags.returncode == 0:
            self.assertNotIn(test_id, json.loads(tags.stdout)["Tags"])
        # Asking again gets a new permit and goes through once S3 is back.
        rec = self.upload(test_id)
        self.assertEqual(rec["upload_status"], "uploaded", rec)

        # Registry unreachable after the raw upload: the raw objects are removed again.
        srv = Server(env={
            "SECPLAT_ALLOWED_SOURCE_ROOTS": self.tmp.name,
            "SECPLAT_S3_ENDPOINT": self.s3_url, "SECPLAT_S3_ACCESS_KEY_ID": "S3RVER",
            "SECPLAT_S3_SECRET_ACCESS_KEY": "S3RVER",
            "SECPLAT_OCI_REGISTRY": f"127.0.0.1:{free_port()}", "SECPLAT_OCI_INSECURE": "true",
            "SECPLAT_OCI_MAX_ATTEMPTS": "2"}).start()
        try:
            token = srv.token()
            test_id = self.scan(srv, token)
            rec = self.upload(test_id, srv, token)
            self.assertEqual(rec["upload_status"], "upload_failed", rec)
            self.assertEqual(rec["upload_error"]["reason"], "oci_failed")
            self.assertEqual(self.raw_keys(test_id), set())
        finally:
            srv.close()

    def test_unreachable_gate_fails_closed(self):
        srv = Server(env={
            "SECPLAT_ALLOWED_SOURCE_ROOTS": self.tmp.name,
            "SECPLAT_TRUST_URL": f"http://127.0.0.1:{free_port()}",
            "SECPLAT_S3_ENDPOINT": self.s3_url, "SECPLAT_S3_ACCESS_KEY_ID": "S3RVER",
            "SECPLAT_S3_SECRET_ACCESS_KEY": "S3RVER",
            "SECPLAT_OCI_REGISTRY": self.registry, "SECPLAT_OCI_INSECURE": "true",
            "SECPLAT_OCI_REPOSITORY": REPO}).start()
        try:
            token = srv.token()
            test_id = self.scan(srv, token)
            rec = self.upload(test_id, srv, token)
            self.assertEqual(rec["upload_status"], "trust_unavailable", rec)
            self.assertIn("could not be reached", rec["upload_error"]["detail"])
            self.assertEqual(self.raw_keys(test_id), set())
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
