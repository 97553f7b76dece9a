"""Black-box test of `secplat scan`: the offline CLI on real directories and a local git
repository, its exit codes (0 policy passed, 1 policy failed or scan failed, 2 usage), its
progress output, and bundles that `secplat verify` and `openssl dgst -verify` accept and whose
SARIF (built-in and external tool adapters) validates against the SARIF 2.1.0 schema."""
import base64
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BINARY  # noqa: E402

# Built at run time so this file holds no credential-shaped literal.
AWS_KEY_ID = "AKIA" + "QYLPMN5HHHFPZAM2"
LOCKFILE = {"name": "demo", "lockfileVersion": 3, "packages": {
    "": {"name": "demo", "dependencies": {"lodash": "4.17.20"}},
    "node_modules/lodash": {"version": "4.17.20"}}}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_tree(root, planted=True):
    """A small project: a lockfile, and (planted) an AWS key plus code the SAST adapters flag."""
    os.makedirs(root)
    write(os.path.join(root, "package-lock.json"), json.dumps(LOCKFILE))
    if planted:
        write(os.path.join(root, "settings.py"), f'AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"\nDEBUG = False\n')
        write(os.path.join(root, "app.py"), "import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n")
        write(os.path.join(root, "deploy.sh"), "#!/bin/sh\nrm -rf $1\n")
        write(os.path.join(root, "vuln.c"), "#include <stdio.h>\nint main(void) {\n  char b[8];\n  gets(b);\n  return 0;\n}\n")
    return root


def scan(*args, cwd=None, stderr=subprocess.PIPE):
    return subprocess.run([BINARY, "scan", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=stderr,
                          text=True, timeout=240)


def verify(bundle, pub):
    return subprocess.run([BINARY, "verify", bundle, "--key", pub], capture_output=True, text=True, timeout=60)


class ScanCliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="secplat-scan-cli-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def test_planted_key_fails_the_policy_and_the_bundle_verifies(self):
        src = make_tree(self.path("src"))
        out = self.path("bundle")
        r = scan(src, "--out", out)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("policy: FAILED (critical findings exceeded threshold", r.stdout)
        self.assertIn(f"bundle: {out}\n", r.stdout)
        self.assertIn("ephemeral key", r.stdout)
        # Progress: plain lines on a pipe, phases and tool events as they happen.
        self.assertNotIn("\r", r.stderr)
        self.assertNotIn("\x1b[", r.stderr)
        for line in ("[scan] Preparing directory source", "[scan] Manifest resolved", "[secrets] started",
                     "[secrets] succeeded", "[sbom] started", "[bandit] started"):
            self.assertIn(line, r.stderr)
        # The summary table: one row per tool with status, findings and duration.
        rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[1:] if line and line[0] != " "}
        self.assertEqual(rows["secrets"][1:3], ["succeeded", "1"])
        for tool in ("bandit", "shellcheck", "cppcheck", "flawfinder"):  # installed by install-deps.sh
            self.assertEqual(rows[tool][1], "succeeded", r.stdout)
            self.assertGreaterEqual(int(rows[tool][2]), 1, r.stdout)

        pub = out + ".pub.pem"
        v = verify(out, pub)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        with open(os.path.join(out, "manifest.sig")) as f:
            der = base64.b64decode(f.read())
        sig = self.path("manifest.sig.der")
        with open(sig, "wb") as f:
            f.write(der)
        o = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig,
                            os.path.join(out, "manifest.json")], capture_output=True, text=True)
        self.assertEqual(o.returncode, 0, o.stdout + o.stderr)

        with open(os.path.join(out, "scan.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["status"], "SUCCEEDED")
        self.assertFalse(meta["sample_mode"])
        self.assertFalse(meta["policy"]["policy_passed"])
        self.assertEqual(meta["directory_path"], os.path.realpath(src))
        for rel in ("reports/sast/bandit.sarif.json", "reports/sast/shellcheck.sarif.json",
                    "reports/sast/cppcheck.sarif.json", "reports/sast/flawfinder.sarif.json"):
            self.assertTrue(os.path.isfile(os.path.join(out, rel)), rel)
        for root, _, files in os.walk(out):
            for name in files:
                with open(os.path.join(root, name), errors="replace") as f:
                    self.assertNotIn(AWS_KEY_ID, f.read(), name)
        # Every SARIF (secrets and the external adapters) against the official SARIF 2.1.0 schema.
        prefix = os.path.join(os.getcwd(), "npm-bundle-schemas")
        s = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "validate_bundle.js"), out, prefix],
                           capture_output=True, text=True, timeout=240)
        self.assertEqual(s.returncode, 0, s.stdout + s.stderr)
        self.assertIn("SARIF 2.1.0 schema: reports/sast/bandit.sarif.json", s.stdout)
        self.assertIn("SARIF 2.1.0 schema: reports/sast/flawfinder.sarif.json", s.stdout)

        # Tampering is caught.
        with open(os.path.join(out, "summary.json"), "a") as f:
            f.write(" ")
        self.assertEqual(verify(out, pub).returncode, 1)

    def test_clean_tree_passes_with_a_given_key_and_yaml_manifest(self):
        src = make_tree(self.path("src"), planted=False)
        keys = self.path("keys")
        k = subprocess.run([BINARY, "keygen", "--out", keys], capture_output=True, text=True)
        self.assertEqual(k.returncode, 0, k.stderr)
        manifest = self.path("manifest.yaml")
        write(manifest, "product: demo\nprofiles:\n  - name: ci\n    tools: [secrets, sbom]\n"
                        "    thresholds: {critical: 0, high: 0}\n")
        out = self.path("bundle")
        r = scan(src, "--manifest", manifest, "--profile", "ci", "--key", os.path.join(keys, "signing.key"),
                 "--out", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("policy: PASSED", r.stdout)
        self.assertFalse(os.path.exists(out + ".pub.pem"))
        v = verify(out, os.path.join(keys, "signing.pub"))
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        self.assertEqual([t["tool"] for t in summary["tools"]], ["secrets", "sbom"])
        self.assertEqual(summary["tools"][1]["findings"], 1)  # lodash

    def test_default_out_dir_and_git_url(self):
        work = make_tree(self.path("work"))
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
        for cmd in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "initial"]):
            subprocess.run(["git", *cmd], cwd=work, check=True, capture_output=True, env=env)
        subprocess.run(["git", "clone", "-q", "--bare", work, self.path("repo.git")], check=True, capture_output=True)
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, check=True, capture_output=True,
                             text=True).stdout.strip()
        cwd = self.path("cwd")
        os.makedirs(cwd)
        r = scan("file://" + self.path("repo.git"), "--profile", "smoke", cwd=cwd)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)  # the planted key, critical > 0
        made = [d for d in os.listdir(cwd) if os.path.isdir(os.path.join(cwd, d))]
        self.assertEqual(len(made), 1, os.listdir(cwd))
        self.assertRegex(made[0], r"^secplat-scan-test_[0-9a-f]{12}$")
        bundle = os.path.join(cwd, made[0])
        self.assertIn("[scan] Fetching repository (shallow)", r.stderr)  # git is installed: depth 1
        with open(os.path.join(bundle, "scan.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["git_commit"], sha)
        self.assertEqual(meta["test_id"], made[0][len("secplat-scan-"):])
        self.assertEqual(verify(bundle, bundle + ".pub.pem").returncode, 0)

    def test_sample_mode_bundle(self):
        src = make_tree(self.path("src"))
        manifest = self.path("manifest.json")
        write(manifest, json.dumps({"sample_mode": True, "profiles": [{"name": "demo", "tools": []}]}))
        out = self.path("bundle")
        r = scan(src, "--manifest", manifest, "--profile", "demo", "--out", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)  # no thresholds: the policy passes
        self.assertIn("sample mode", r.stderr)
        with open(os.path.join(out, "scan.json")) as f:
            meta = json.load(f)
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        self.assertTrue(meta["sample_mode"])
        self.assertTrue(summary["sample_mode"])
        self.assertEqual([t["tool"] for t in meta["tools"]], ["sample"])
        self.assertIsNone(meta["provenance_id"])
        self.assertIsNone(meta["directory_path"])
        for root, _, files in os.walk(out):
            for name in files:
                with open(os.path.join(root, name), errors="replace") as f:
                    self.assertNotIn(os.path.realpath(src), f.read(), name)
        self.assertEqual(verify(out, out + ".pub.pem").returncode, 0)

    def test_progress_is_one_updating_line_on_a_terminal(self):
        src = make_tree(self.path("src"), planted=False)
        master, slave = pty.openpty()
        chunks = []
        reader = threading.Thread(target=lambda: self._drain(master, chunks))
        reader.start()
        try:
            r = scan(src, "--profile", "smoke", "--out", self.path("bundle"), stderr=slave)
        finally:
            os.close(slave)
            reader.join(timeout=30)
            os.close(master)
        self.assertEqual(r.returncode, 0, r.stdout)
        shown = b"".join(chunks)
        self.assertIn(b"\r\x1b[2K", shown)
        self.assertIn(b"[secrets]", shown)

    @staticmethod
    def _drain(fd, chunks):
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    def test_usage_errors_exit_2_and_name_the_problem(self):
        src = make_tree(self.path("src"), planted=False)
        not_a_key = self.path("junk.pem")
        write(not_a_key, "hello\n")
        manifest = self.path("m.json")
        write(manifest, json.dumps({"profiles": [{"name": "ci", "tools": ["secrets"]}]}))
        existing = self.path("existing")
        write(os.path.join(existing, "file"), "x")
        cases = [
            ([self.path("nope")], "nope: no such file or directory"),
            ([os.path.join(src, "package-lock.json")], "not a directory"),
            ([src, "--profile", "bogus"], "unknown profile 'bogus'"),
            ([src, "--manifest", manifest, "--profile", "other"], "manifest profile 'other' not found"),
            ([src, "--manifest", self.path("missing.json")], "cannot read manifest"),
            ([src, "--key", self.path("missing.key")], "cannot read key"),
            ([src, "--key", not_a_key], "is not an unencrypted P-256 private key"),
            ([src, "--out", existing], "already exists"),
            (["file://" + self.path("no-repo.git")], "no such repository"),
        ]
        for args, message in cases:
            r = scan(*args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stdout}{r.stderr}")
            self.assertIn(message, r.stderr, args)
        self.assertEqual(subprocess.run([BINARY, "scan"], capture_output=True).returncode, 2)
        self.assertEqual(os.listdir(existing), ["file"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
