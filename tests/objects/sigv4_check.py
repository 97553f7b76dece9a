#!/usr/bin/env python3
"""Byte-for-byte SigV4 check of the S3 adapter against botocore.

s3rver never verifies SigV4 signatures, so the adapter's requests go to this capture server
instead, which records each request exactly as it arrived (method, raw path, raw query, headers,
body) and answers like S3 would. `verify` then recomputes every signature with botocore's
S3SigV4Auth at the request's own X-Amz-Date and compares the Authorization header byte for byte.

  sigv4_check.py serve DIR                       port -> DIR/port, requests -> DIR/requests.jsonl
  sigv4_check.py verify DIR ACCESS_KEY SECRET REGION [--min N]

The capture server answers from a plan when DIR/plan.json holds one: a JSON list of
{"match": substring of "METHOD /path?query" (optional), "status": int, "body": str, "headers": {}}.
The first entry that matches a request answers it and is used up; otherwise a default S3-like
answer is given. Exit status of verify: 0 all match, 1 a mismatch (or fewer than N requests).
"""
import base64
import datetime
import hashlib
import json
import os
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


def serve(directory):
    log_path = os.path.join(directory, "requests.jsonl")
    plan_path = os.path.join(directory, "plan.json")

    def planned(line):
        with LOCK:
            if not os.path.exists(plan_path):
                return None
            with open(plan_path) as f:
                plan = json.load(f)
            for i, entry in enumerate(plan):
                if entry.get("match", "") in line:
                    del plan[i]
                    with open(plan_path + ".tmp", "w") as f:
                        json.dump(plan, f)
                    os.replace(plan_path + ".tmp", plan_path)
                    return entry
        return None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # handles Expect: 100-continue

        def log_message(self, *args):
            pass

        def handle_one(self):
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            record = {
                "method": self.command,
                "path": path,
                "query": query,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_b64": base64.b64encode(body).decode(),
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }
            with LOCK:
                with open(log_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
            line = f"{self.command} {self.path}"
            entry = planned(line)
            if entry is not None:
                status = entry.get("status", 200)
                out = entry.get("body", "").encode()
                headers = entry.get("headers", {})
            else:
                status, out, headers = self.default_answer(path, query)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        def default_answer(self, path, query):
            xml = {"Content-Type": "application/xml"}
            names = [q.split("=")[0] for q in query.split("&")]
            if self.command == "POST" and "uploads" in names:
                return 200, (b"<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                             b"<UploadId>upl-1&amp;x</UploadId></InitiateMultipartUploadResult>"), xml
            if self.command == "POST" and "uploadId=" in query:
                return 200, (b"<CompleteMultipartUploadResult><ETag>&quot;final-2&quot;</ETag>"
                             b"</CompleteMultipartUploadResult>"), xml
            if self.command == "PUT" and "x-amz-copy-source" in self.headers:
                return 200, b"<CopyObjectResult><ETag>&quot;copied&quot;</ETag></CopyObjectResult>", xml
            if self.command == "PUT" and "partNumber=" in query:
                n = [q.split("=")[1] for q in query.split("&") if q.startswith("partNumber=")][0]
                return 200, b"", {"ETag": f"\"etag-{n}\""}
            if self.command == "PUT":
                return 200, b"", {"ETag": "\"abc\""}
            if self.command == "HEAD":
                return 200, b"", {"Content-Type": "text/plain", "Content-Length": "5", "ETag": "\"abc\"",
                                  "x-amz-meta-test_id": "t1"}
            if self.command == "GET" and "list-type=2" in query:
                return 200, (b"<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>"
                             b"<Contents><Key>dir/a &amp; b &#233;&#x20AC;.txt</Key><Size>7</Size>"
                             b"<ETag>&quot;e1&quot;</ETag></Contents></ListBucketResult>"), xml
            if self.command == "GET":
                return 200, b"hello", {"Content-Type": "text/plain"}
            if self.command == "DELETE":
                return 204, b"", {}
            return 400, b"<Error><Code>Unexpected</Code></Error>", xml

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(os.path.join(directory, "port.tmp"), "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))
    server.serve_forever()


# Headers the client sends but does not sign, and that botocore would not sign either.
UNSIGNED = {"authorization", "user-agent", "accept", "content-length", "expect", "transfer-encoding"}


def verify(directory, access_key, secret, region, minimum):
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    with open(os.path.join(directory, "requests.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    failures = 0
    for r in records:
        headers = {k: v for k, v in r["headers"]}
        lower = {k.lower(): v for k, v in r["headers"]}
        ours = lower.get("authorization", "")
        amz_date = lower.get("x-amz-date", "")
        fixed = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ") if amz_date else None

        class FixedDateTime(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return fixed

        # add_auth() reads the clock: pin it to the request's X-Amz-Date (botocore < 1.32 calls
        # datetime.datetime.utcnow(), later versions botocore.utils.get_current_datetime()).
        botocore.auth.datetime = types.SimpleNamespace(datetime=FixedDateTime)
        if hasattr(botocore.auth, "get_current_datetime"):
            botocore.auth.get_current_datetime = lambda *a, **k: fixed
        url = f"http://{lower.get('host', '')}{r['path']}" + (f"?{r['query']}" if r["query"] else "")
        signed = {k: v for k, v in headers.items() if k.lower() not in UNSIGNED}
        request = AWSRequest(method=r["method"], url=url, headers=signed, data=base64.b64decode(r["body_b64"]))
        auth = botocore.auth.S3SigV4Auth(Credentials(access_key, secret), "s3", region)
        auth.add_auth(request)
        theirs = request.headers["Authorization"]
        line = f"{r['method']} {r['path']}" + (f"?{r['query']}" if r["query"] else "")
        sent_hash = lower.get("x-amz-content-sha256", "")
        if ours == theirs and sent_hash == r["body_sha256"]:
            print(f"ok       {line}  [{lower.get('x-amz-content-sha256', '')[:12]}…] "
                  f"signed: {theirs.split('SignedHeaders=')[1].split(',')[0]}")
        else:
            failures += 1
            print(f"MISMATCH {line}\n  ours:     {ours}\n  botocore: {theirs}\n"
                  f"  payload hash sent {sent_hash}, body {r['body_sha256']}")
    print(f"{len(records) - failures}/{len(records)} signatures match botocore {botocore.__version__}")
    if failures or len(records) < minimum:
        return 1
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
        return 0
    if len(sys.argv) >= 6 and sys.argv[1] == "verify":
        minimum = int(sys.argv[7]) if len(sys.argv) >= 8 and sys.argv[6] == "--min" else 1
        return verify(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], minimum)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
