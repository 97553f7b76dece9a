"""API read throughput on PostgreSQL against SQLite (issue: "within 2x of SQLite"), same data, same
wrk load, same run.

Starts a private PostgreSQL on loopback (tests/support/pg_test_server.sh), then `secplat serve` once
on the embedded SQLite store and once with SECPLAT_DATABASE_URL, seeds each with the same 1,000
assets (the anchor's shape) and 1,000 findings, and runs wrk on the read routes users hit most.
Prints requests/s and p99 for each backend and the SQLite/PostgreSQL ratio. Server, database and wrk
share this machine's cores. Figures, not assertions.

Usage: bench/pg_read_bench.py [--duration 5] [--connections 16]
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_bench as hb  # noqa: E402

ROUTES = [
    ("GET /posture/summary", "/posture/summary"),
    ("GET /posture (1,000 assets)", "/posture"),
    ("GET /assets/?limit=50", "/assets/?limit=50"),
    ("GET /findings/?limit=50", "/findings/?limit=50"),
    ("GET /findings/{id}", None),  # filled in after seeding
]


def start(data_dir, database_url=None):
    port = hb.free_port()
    env = dict(os.environ, SECPLAT_ADMIN_PASSWORD="bench-admin-password", SECPLAT_LOG_LEVEL="warn",
               SECPLAT_POSTURE_SWEEP_INTERVAL_S="1")
    if database_url:
        env["SECPLAT_DATABASE_URL"] = database_url
    proc = subprocess.Popen([hb.BINARY, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hb.wait_http(f"http://127.0.0.1:{port}/ready", timeout=60)
    return proc, port


def seed(port, token):
    hb.seed_assets(port, token, 1000)

    def finding(i):
        return hb.call(port, "POST", "/findings/", token=token, body={
            "finding_key": f"seed-{i}", "title": "Missing CSP header", "asset_key": f"asset-{i % 1000:05d}",
            "severity": ("critical", "high", "medium", "low")[i % 4]})
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = [f["finding_id"] for f in pool.map(finding, range(1000))]
    return ids[len(ids) // 2]


def measure(port, token, finding_id, duration, connections):
    out = {}
    for label, path in ROUTES:
        path = path or f"/findings/{finding_id}"
        out[label] = hb.wrk(f"http://127.0.0.1:{port}{path}", duration, connections, token=token)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    support = os.path.join(hb.ROOT, "tests", "support", "pg_test_server.sh")
    with tempfile.TemporaryDirectory(prefix="secplat-bench-pg-") as tmp:
        pg_dir = f"/tmp/secplat-bench-pg-{os.getpid()}"  # not under tmp: the server runs as `postgres`
        subprocess.run([support, "start", pg_dir], check=True)
        try:
            with open(os.path.join(pg_dir, "url")) as f:
                pg_url = f.read().strip()
            results = {}
            for name, url in [("sqlite", None), ("postgresql", pg_url)]:
                proc, port = start(os.path.join(tmp, name), url)
                try:
                    token = hb.call(port, "POST", "/auth/login",
                                    form={"username": "admin", "password": "bench-admin-password"})["access_token"]
                    fid = seed(port, token)
                    time.sleep(1.0)
                    results[name] = measure(port, token, fid, args.duration, args.connections)
                finally:
                    hb.stop(proc)
        finally:
            subprocess.run([support, "stop", pg_dir], check=False)

    print(f"API reads, wrk -t2 -c{args.connections} -d{args.duration}s; server, database and wrk on this machine")
    print(f"{'route':<30} {'sqlite req/s':>13} {'p99 ms':>8} {'postgres req/s':>15} {'p99 ms':>8} {'sqlite/pg':>10}")
    for label, _ in ROUTES:
        s, p = results["sqlite"][label], results["postgresql"][label]
        errors = f"  non-2xx {s[2]}/{p[2]}" if s[2] or p[2] else ""
        print(f"{label:<30} {s[0]:>13.0f} {s[1]:>8.2f} {p[0]:>15.0f} {p[1]:>8.2f} {s[0] / p[0]:>9.2f}x{errors}")
    print("target: every ratio <= 2.0x")


if __name__ == "__main__":
    sys.exit(main())
