"""Black-box test of the OpenSearch mirror: `secplat serve` with SECPLAT_OPENSEARCH_URL pointing at a
fake OpenSearch (a Python http.server in this file that speaks the `_index_template` and `_bulk` wire
format and checks every request: method, path, content type, basic auth, NDJSON framing, index
names, and that every document has the reference fields with the right types).

(a) an up target and a stopped one: `secplat-events` documents for both (up/down) that match the
    API's timeline, `secplat-asset-status` documents with `_id` = asset key and the right status,
    both templates PUT before the first bulk request;
(b) the fake answers 503 to whole bulk requests for a few seconds and 429 to some items: once it
    recovers, every event is there, each stored exactly once (no gap, no loss, no duplicate);
(c) a restart on the same data dir re-sends nothing from before the cursor;
(d) a bad opensearch.url stops the start with exit 2 naming the key.
Runs on the embedded backends and on PostgreSQL + Redis (`blackbox_opensearch_pg_redis`)."""
import base64
import collections
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BINARY, Server, Switch, free_port, wait_for  # noqa: E402

USER = "secplat-writer"
PASSWORD = "os-pass-w0rd-not-in-logs"
EVENTS = "secplat-events"
STATUS = "secplat-asset-status"
SECONDS_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

EVENT_FIELDS = {"@timestamp", "service", "asset", "level", "message", "status", "status_num", "code", "latency_ms"}
EVENT_EXTRA = {"error_class", "error", "tls_version", "cert_not_after", "remote_ip"}
STATUS_FIELDS = {"@timestamp", "asset_key", "name", "type", "environment", "owner", "owner_team", "criticality",
                 "status", "status_num", "code", "latency_ms", "last_seen", "source_event_timestamp",
                 "staleness_seconds", "posture_score", "posture_state", "last_status_change"}
STATUS_EXTRA = {"reason", "previous_status", "flapping", "confidence", "confidence_reason", "last_good_at",
                "last_good_code", "last_good_latency_ms", "error_class", "tls_version", "cert_not_after"}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class FakeOpenSearch:
    """Stores what is indexed, records every problem with a request, and fails on demand."""

    def __init__(self):
        self.lock = threading.Lock()
        self.problems = []
        self.log = []                      # ("PUT", name) | ("BULK", n_items, status)
        self.templates = {}
        self.docs = {EVENTS: {}, STATUS: {}}
        self.stored = {EVENTS: collections.Counter(), STATUS: collections.Counter()}
        self.sent = collections.Counter()  # (index, _id) → times offered (after whole-request failures)
        self.fail_bulk_until = 0.0         # monotonic time until which every bulk request gets 503
        self.item_policy = None            # (index, _id, times sent before) → status
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):  # noqa: N802
                fake.handle(self, "PUT")

            def do_POST(self):  # noqa: N802
                fake.handle(self, "POST")

            def do_GET(self):  # noqa: N802
                fake.handle(self, "GET")

            def do_DELETE(self):  # noqa: N802
                fake.handle(self, "DELETE")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def problem(self, text):
        self.problems.append(text)

    @staticmethod
    def reply(h, status, body):
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def handle(self, h, method):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self.lock:
            expected_auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if h.headers.get("Authorization") != expected_auth:
                self.problem(f"{method} {h.path}: authorization {h.headers.get('Authorization')!r}")
            if method == "PUT" and h.path.startswith("/_index_template/"):
                status, answer = self.on_template(h, body)
            elif method == "POST" and h.path == "/_bulk":
                status, answer = self.on_bulk(h, body)
            else:
                self.problem(f"unexpected request {method} {h.path}")
                status, answer = 404, {"error": {"type": "not_found"}}
        self.reply(h, status, answer)

    def on_template(self, h, body):
        name = h.path[len("/_index_template/"):]
        self.log.append(("PUT", name))
        if h.headers.get("Content-Type") != "application/json":
            self.problem(f"template {name}: content type {h.headers.get('Content-Type')}")
        try:
            t = json.loads(body)
        except ValueError:
            self.problem(f"template {name}: body is not JSON")
            return 400, {"error": {"type": "parse_exception"}}
        props = t.get("template", {}).get("mappings", {}).get("properties", {})
        if name == EVENTS:
            if t.get("index_patterns") != ["secplat-events*"]:
                self.problem(f"events template patterns {t.get('index_patterns')}")
            want = {"@timestamp": "date", "asset": "keyword", "service": "keyword", "status": "keyword",
                    "level": "keyword", "code": "integer", "status_num": "integer", "latency_ms": "integer"}
        elif name == STATUS:
            if t.get("index_patterns") != [STATUS]:
                self.problem(f"status template patterns {t.get('index_patterns')}")
            settings = t.get("template", {}).get("settings", {})
            if settings.get("number_of_shards") != 1 or settings.get("number_of_replicas") != 0:
                self.problem(f"status template settings {settings}")
            want = {"@timestamp": "date", "asset_key": "keyword", "name": "keyword", "type": "keyword",
                    "environment": "keyword", "owner": "keyword", "owner_team": "keyword",
                    "criticality": "integer", "status": "keyword", "status_num": "integer", "code": "integer",
                    "latency_ms": "integer", "last_seen": "date", "source_event_timestamp": "date",
                    "staleness_seconds": "integer", "posture_score": "integer", "posture_state": "keyword",
                    "last_status_change": "date"}
        else:
            self.problem(f"unknown template {name}")
            return 400, {"error": {"type": "invalid_index_template_exception"}}
        for field, typ in want.items():
            if props.get(field, {}).get("type") != typ:
                self.problem(f"template {name}: {field} mapped as {props.get(field)}")
        self.templates[name] = t
        return 200, {"acknowledged": True}

    def check_event(self, _id, d):
        where = f"event {_id}"
        if not _id.isdigit():
            self.problem(f"{where}: _id is not an event id")
        keys = set(d)
        if not EVENT_FIELDS <= keys or not keys <= EVENT_FIELDS | EVENT_EXTRA:
            self.problem(f"{where}: fields {sorted(keys)}")
            return
        if not SECONDS_TS.match(str(d["@timestamp"])):
            self.problem(f"{where}: @timestamp {d['@timestamp']!r}")
        if d["level"] != "health" or d["message"] != "healthcheck":
            self.problem(f"{where}: level/message {d['level']!r} {d['message']!r}")
        if (d["status"], d["status_num"]) not in (("up", 1), ("down", -2)) or not is_int(d["status_num"]):
            self.problem(f"{where}: status {d['status']!r} {d['status_num']!r}")
        if not is_int(d["code"]) or not is_int(d["latency_ms"]):
            self.problem(f"{where}: code/latency_ms {d['code']!r} {d['latency_ms']!r}")
        if not isinstance(d["asset"], str) or not isinstance(d["service"], str):
            self.problem(f"{where}: asset/service")
        for k in ("error_class", "error", "tls_version", "remote_ip"):
            if k in d and not isinstance(d[k], str):
                self.problem(f"{where}: {k} {d[k]!r}")
        if "cert_not_after" in d and not RFC3339.match(str(d["cert_not_after"])):
            self.problem(f"{where}: cert_not_after {d['cert_not_after']!r}")

    def check_status(self, _id, d):
        where = f"status {_id}"
        keys = set(d)
        if not STATUS_FIELDS <= keys or not keys <= STATUS_FIELDS | STATUS_EXTRA:
            self.problem(f"{where}: fields {sorted(keys)}")
            return
        if d["asset_key"] != _id:
            self.problem(f"{where}: _id is not the asset key ({d['asset_key']!r})")
        if not SECONDS_TS.match(str(d["@timestamp"])):
            self.problem(f"{where}: @timestamp {d['@timestamp']!r}")
        for k in ("name", "type", "environment", "owner", "owner_team"):
            if not isinstance(d[k], str):
                self.problem(f"{where}: {k} {d[k]!r}")
        if not is_int(d["criticality"]) or not 1 <= d["criticality"] <= 5:
            self.problem(f"{where}: criticality {d['criticality']!r}")
        pairs = {"up": 1, "stale": 0, "unknown": -1, "down": -2, "scan_based": 0}
        if pairs.get(d["status"]) != d["status_num"] or not is_int(d["status_num"]):
            self.problem(f"{where}: status {d['status']!r} {d['status_num']!r}")
        for k in ("code", "latency_ms"):
            if d[k] is not None and not is_int(d[k]):
                self.problem(f"{where}: {k} {d[k]!r}")
        for k in ("last_seen", "source_event_timestamp", "last_status_change"):
            if d[k] is not None and not SECONDS_TS.match(str(d[k])):
                self.problem(f"{where}: {k} {d[k]!r}")
        if d["source_event_timestamp"] != d["last_seen"]:
            self.problem(f"{where}: source_event_timestamp differs from last_seen")
        if not is_int(d["staleness_seconds"]) or d["staleness_seconds"] < 0:
            self.problem(f"{where}: staleness_seconds {d['staleness_seconds']!r}")
        if d["posture_score"] not in (0, 60, 100) or d["posture_state"] not in ("green", "amber", "red"):
            self.problem(f"{where}: score/state {d['posture_score']!r} {d['posture_state']!r}")
        if "flapping" in d and not isinstance(d["flapping"], bool):
            self.problem(f"{where}: flapping {d['flapping']!r}")
        if "confidence" in d and not isinstance(d["confidence"], (int, float)):
            self.problem(f"{where}: confidence {d['confidence']!r}")

    def on_bulk(self, h, body):
        if set(self.templates) != {EVENTS, STATUS}:
            self.problem(f"bulk before both templates ({sorted(self.templates)})")
        if h.headers.get("Content-Type") != "application/x-ndjson":
            self.problem(f"bulk content type {h.headers.get('Content-Type')}")
        text = body.decode("utf-8")
        if not text.endswith("\n"):
            self.problem("bulk body does not end with a newline")
        lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
        if len(lines) % 2:
            self.problem(f"bulk body has {len(lines)} lines")
        fail_all = time.monotonic() < self.fail_bulk_until
        items = []
        for i in range(0, len(lines) - 1, 2):
            try:
                action, doc = json.loads(lines[i]), json.loads(lines[i + 1])
            except ValueError:
                self.problem(f"bulk line {i} is not JSON")
                continue
            if list(action) != ["index"] or set(action["index"]) != {"_index", "_id"}:
                self.problem(f"bulk action {lines[i]}")
                continue
            index, _id = action["index"]["_index"], action["index"]["_id"]
            if index == EVENTS:
                self.check_event(_id, doc)
            elif index == STATUS:
                self.check_status(_id, doc)
            else:
                self.problem(f"bulk index {index}")
                continue
            if fail_all:
                continue
            before = self.sent[(index, _id)]
            self.sent[(index, _id)] += 1
            status = self.item_policy(index, _id, before) if self.item_policy else 201
            item = {"_index": index, "_id": _id, "status": status}
            if 200 <= status < 300:
                self.docs[index][_id] = doc
                self.stored[index][_id] += 1
                item["result"] = "created"
            else:
                item["error"] = {"type": "es_rejected_execution_exception", "reason": "rejected execution"}
            items.append({"index": item})
        if fail_all:
            self.log.append(("BULK", len(lines) // 2, 503))
            return 503, {"error": {"type": "cluster_block_exception", "reason": "unavailable"}, "status": 503}
        self.log.append(("BULK", len(items), 200))
        return 200, {"took": 2, "errors": any(i["index"]["status"] >= 300 for i in items), "items": items}

    def snapshot(self):
        with self.lock:
            return {k: dict(v) for k, v in self.docs.items()}, {k: dict(v) for k, v in self.stored.items()}


class OpenSearchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeOpenSearch()
        cls.up = Switch()
        cls.closed_port = free_port()  # nothing listens there: the probe is refused
        cls.srv = Server(env={
            "SECPLAT_PROBE_ALLOW_PRIVATE": "true",
            "SECPLAT_POSTURE_SWEEP_INTERVAL_S": "1",
            "SECPLAT_POSTURE_TARGET_REFRESH_S": "1",
            "SECPLAT_OPENSEARCH_URL": cls.fake.url + "/",
            "SECPLAT_OPENSEARCH_USERNAME": USER,
            "SECPLAT_OPENSEARCH_PASSWORD": PASSWORD,
            "SECPLAT_OPENSEARCH_BATCH_SIZE": "20",
            "SECPLAT_OPENSEARCH_FLUSH_INTERVAL_MS": "200",
            "SECPLAT_OPENSEARCH_STATUS_REFRESH_S": "3"}).start()
        cls.token = cls.srv.token()
        for key, url in (("os-up", cls.up.url), ("os-down", f"http://127.0.0.1:{cls.closed_port}/health")):
            r = cls.srv.request("POST", "/assets/", token=cls.token, body={
                "asset_key": key, "name": key.upper(), "type": "app", "environment": "prod", "criticality": "high",
                "owner": "team-os", "probe": {"url": url, "interval_seconds": 1}})
            assert r.status in (200, 201), r

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.close()
        finally:
            cls.up.httpd.shutdown()
            cls.fake.httpd.shutdown()

    def tearDown(self):
        with self.fake.lock:
            problems = list(self.fake.problems)
        self.assertEqual(problems, [])
        self.assertNotIn(PASSWORD, self.srv.output())

    def api_events(self, key):
        """The store's events of one asset, by event id, as the API shows them."""
        r = self.srv.request("GET", f"/posture/{key}/detail?limit=5000", token=self.token)
        self.assertEqual(r.status, 200, r)
        return {str(e["event_id"]): e for e in r.json()["timeline"]}

    def api_event_ids(self):
        ids = {}
        for key in ("os-up", "os-down"):
            ids.update(self.api_events(key))
        return ids

    def mirrored_all(self, ids):
        docs, _ = self.fake.snapshot()
        return set(ids) <= set(docs[EVENTS])

    def test_a_events_and_status_documents_in_the_reference_shape(self):
        def both_states():
            docs, _ = self.fake.snapshot()
            st = docs[STATUS]
            return st.get("os-up", {}).get("status") == "up" and st.get("os-down", {}).get("status") == "down"
        wait_for(both_states, timeout=30, what="status documents up and down")
        ids = self.api_event_ids()
        wait_for(lambda: self.mirrored_all(ids), timeout=30, what="every event mirrored")
        docs, _ = self.fake.snapshot()
        seen_status = set()
        for _id, e in ids.items():
            d = docs[EVENTS][_id]
            self.assertEqual(d["asset"], e["asset"])
            self.assertEqual(d["@timestamp"], e["@timestamp"][:19] + "Z")  # second precision
            self.assertEqual((d["status"], d["status_num"], d["code"], d["latency_ms"]),
                             (e["status"], e["status_num"], e["code"], e["latency_ms"]))
            seen_status.add((d["asset"], d["status"]))
        self.assertIn(("os-up", "up"), seen_status)
        self.assertIn(("os-down", "down"), seen_status)
        down_doc = next(d for d in docs[EVENTS].values() if d["asset"] == "os-down")
        self.assertEqual(down_doc["code"], 0)
        self.assertEqual(down_doc["error_class"], "refused")

        up, down = docs[STATUS]["os-up"], docs[STATUS]["os-down"]
        self.assertEqual((up["status"], up["status_num"], up["posture_state"], up["posture_score"]),
                         ("up", 1, "green", 100))
        self.assertEqual((down["status"], down["status_num"], down["posture_state"], down["posture_score"]),
                         ("down", -2, "red", 0))
        self.assertEqual((up["name"], up["type"], up["environment"], up["owner"], up["criticality"]),
                         ("OS-UP", "app", "prod", "team-os", 2))
        self.assertEqual(up["code"], 200)
        self.assertIsNotNone(up["last_seen"])

        with self.fake.lock:
            log = list(self.fake.log)
        first_bulk = next(i for i, entry in enumerate(log) if entry[0] == "BULK")
        self.assertEqual(sorted(name for kind, name, *_ in log[:first_bulk] if kind == "PUT"), [STATUS, EVENTS])

        metrics = self.srv.request("GET", "/metrics", token=self.token).body.decode()
        self.assertRegex(metrics, r'secplat_opensearch_docs_total\{index="secplat-events",outcome="indexed"\} [1-9]')
        self.assertRegex(metrics, r'secplat_opensearch_docs_total\{index="secplat-asset-status",outcome="indexed"\} [1-9]')

    def test_b_an_outage_and_throttled_items_lose_nothing_and_duplicate_nothing(self):
        wait_for(lambda: self.mirrored_all(self.api_event_ids()), timeout=30, what="caught up before the outage")
        with self.fake.lock:
            self.fake.fail_bulk_until = time.monotonic() + 4
            # Every third event is throttled twice before it is taken; every other status document once.
            self.fake.item_policy = lambda index, _id, before: (
                429 if (index == EVENTS and int(_id) % 3 == 0 and before < 2) or (index == STATUS and before % 2 == 0)
                else 201)
        time.sleep(4.5)  # the outage: every bulk request gets 503
        with self.fake.lock:
            refused = sum(1 for entry in self.fake.log if entry[0] == "BULK" and entry[2] == 503)
        self.assertGreater(refused, 0)
        ids = self.api_event_ids()
        wait_for(lambda: self.mirrored_all(ids), timeout=60, what="every event mirrored after the outage")
        docs, stored = self.fake.snapshot()
        throttled = [i for i in ids if int(i) % 3 == 0 and self.fake.sent[(EVENTS, i)] >= 3]
        self.assertTrue(throttled, "some events were throttled and retried")
        duplicated = {i: n for i, n in stored[EVENTS].items() if n != 1}
        self.assertEqual(duplicated, {})
        self.assertEqual(set(docs[EVENTS]) - set(self.api_event_ids()), set())  # nothing invented
        with self.fake.lock:
            self.fake.item_policy = None
        metrics = self.srv.request("GET", "/metrics", token=self.token).body.decode()
        self.assertRegex(metrics, r'secplat_opensearch_requests_total\{outcome="http_error"\} [1-9]')
        self.assertRegex(metrics, r'secplat_opensearch_requests_total\{outcome="item_errors"\} [1-9]')

    def test_c_a_restart_resends_nothing_from_before_the_cursor(self):
        wait_for(lambda: self.mirrored_all(self.api_event_ids()), timeout=30, what="caught up before the restart")
        self.assertEqual(self.srv.stop(), 0)
        _, stored_before = self.fake.snapshot()
        before = set(stored_before[EVENTS])
        self.srv.start()
        self.token = type(self).token = self.srv.token()
        with self.fake.lock:
            puts = [entry for entry in self.fake.log if entry[0] == "PUT"]
        self.assertGreaterEqual(len(puts), 4)  # the templates again at start
        # New events after the restart are mirrored too.
        wait_for(lambda: len(set(self.fake.snapshot()[1][EVENTS]) - before) >= 4, timeout=30,
                 what="new events after the restart")
        ids = self.api_event_ids()
        wait_for(lambda: self.mirrored_all(ids), timeout=30, what="caught up after the restart")
        docs, stored = self.fake.snapshot()
        duplicated = {i: n for i, n in stored[EVENTS].items() if n != 1}
        self.assertEqual(duplicated, {})  # nothing from before the cursor was sent again
        self.assertEqual(set(docs[EVENTS]) - set(self.api_event_ids()), set())  # and nothing invented

    def test_d_a_bad_url_stops_the_start_naming_the_key(self):
        for url in ("ftp://127.0.0.1:9200", "http://user:pw@127.0.0.1:9200", "http://127.0.0.1:notaport"):
            env = dict(self.srv.env)
            env["SECPLAT_OPENSEARCH_URL"] = url
            p = subprocess.run([BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.srv.data_dir + "-bad"],
                               env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (url, p.stderr))
            self.assertIn("opensearch.url", p.stderr)
            self.assertNotIn("pw@", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
