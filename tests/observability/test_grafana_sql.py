"""Every SQL panel of the Grafana dashboards in deploy/grafana/dashboards runs against the real
schema: `secplat serve` on the test PostgreSQL creates it through its migrations, the test makes
data through the public API (assets, a probed asset that goes up then down against a local HTTP
target, findings, a scan job, incidents), expands each panel's rawSql the way Grafana does
(grafana_sql.py) and runs it with psql in a read-only session. Key panels must show what the data
implies, cross-checked against the API."""
import csv
import datetime
import io
import json
import os
import subprocess
import sys
import time
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "blackbox"))
sys.path.insert(0, HERE)
from grafana_sql import ExpansionError, Expander  # noqa: E402
from harness import Server, Switch, wait_for  # noqa: E402

DASHBOARDS = os.path.join(ROOT, "deploy", "grafana", "dashboards")
PROVISIONING = os.path.join(ROOT, "deploy", "grafana", "provisioning")
POSTURE_UID = "afbkybzs8bzeof"
STATUS_NUMS = {"1", "0", "-1", "-2"}
POSTURE_STATES = {"green", "amber", "red"}




def load_dashboards():
    out = {}
    for name in sorted(os.listdir(DASHBOARDS)):
        if name.endswith(".json"):
            with open(os.path.join(DASHBOARDS, name)) as f:
                out[name] = json.load(f)
    return out


def sql_targets(board):
    for panel in board["panels"]:
        for t in panel.get("targets", []):
            if "rawSql" in t:
                yield panel, t


def iso_ms(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


class GrafanaSqlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.environ.get("SECPLAT_TEST_PG_DIR"):
            raise RuntimeError("needs the test PostgreSQL: set SECPLAT_TEST_PG_DIR (ctest fixture pg)")
        cls.started = datetime.datetime.now(datetime.timezone.utc)
        cls.stable, cls.flip = Switch(), Switch()
        cls.srv = Server(env={"SECPLAT_PROBE_ALLOW_PRIVATE": "true", "SECPLAT_POSTURE_SWEEP_INTERVAL_S": "1",
                              "SECPLAT_POSTURE_TARGET_REFRESH_S": "1"}).start()
        cls.token = cls.srv.token()
        url = cls.srv.env["SECPLAT_DATABASE_URL"]
        assert "options=" in url, url
        # Grafana should read with a read-only role; the session is read-only so a panel that writes fails.
        cls.db_url = url + "%20-c%20default_transaction_read_only%3Don"
        cls.dashboards = load_dashboards()
        cls.seed()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.close()
        finally:
            cls.stable.httpd.shutdown()
            cls.flip.httpd.shutdown()

    # --- data through the API -------------------------------------------------------------------
    @classmethod
    def api(cls, method, path, body=None, expect=(200, 201)):
        r = cls.srv.request(method, path, token=cls.token, body=body)
        assert r.status in expect, (method, path, r)
        return r.json()

    @classmethod
    def health(cls, key):
        r = cls.srv.request("GET", f"/posture/{key}", token=cls.token)
        return r.json().get("health_status") if r.status == 200 else None

    @classmethod
    def seed(cls):
        assets = [("obs-stable", "prod", "team-a", cls.stable.url), ("obs-flip", "prod", "team-b", cls.flip.url),
                  ("obs-inventory", "dev", None, None)]
        for key, env, owner, url in assets:
            body = {"asset_key": key, "name": key, "type": "app", "environment": env, "criticality": "high"}
            if owner:
                body["owner"] = owner
            if url:
                body["probe"] = {"url": url, "interval_seconds": 1}
            cls.api("POST", "/assets/", body)
        wait_for(lambda: cls.health("obs-stable") == "up" and cls.health("obs-flip") == "up", timeout=30,
                 what="probed assets up")
        for key, fkey, sev in [("obs-stable", "obs-crit", "critical"), ("obs-stable", "obs-high", "high"),
                               ("obs-flip", "obs-med", "medium"), ("obs-inventory", "obs-low", "low")]:
            cls.api("POST", "/findings/", {"asset_key": key, "finding_key": fkey, "title": f"{sev} issue",
                                           "severity": sev, "source": "manual"})
        low = [f for f in cls.api("GET", "/findings/?asset_key=obs-inventory") if f["finding_key"] == "obs-low"][0]
        cls.api("PATCH", f"/findings/{low['finding_id']}/status", {"status": "remediated"})

        job = cls.api("POST", "/jobs", {"job_type": "health_http", "asset_key": "obs-stable"})
        cls.job = wait_for(lambda: (lambda j: j if j["status"] in ("done", "failed") else None)(
            cls.api("GET", f"/jobs/{job['job_id']}")), timeout=60, interval=0.2, what="health job finished")

        # Let the history hold a few all-up seconds, then take obs-flip down.
        time.sleep(3)
        cls.flip.healthy = False
        wait_for(lambda: cls.health("obs-flip") == "down", timeout=30, what="obs-flip down")
        wait_for(lambda: any("obs-flip" in i["title"] for i in cls.api("GET", "/incidents?limit=200")["items"]),
                 timeout=30, what="incident for obs-flip")

        past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        cls.api("POST", "/incidents", {"title": "obs breached", "severity": "high", "sla_due_at": past})
        late = cls.api("POST", "/incidents", {"title": "obs resolved late", "severity": "low", "sla_due_at": past})
        time.sleep(1.1)  # a resolution time above zero
        cls.api("PATCH", f"/incidents/{late['id']}/status", {"status": "resolved"})
        time.sleep(3)  # a few more probe results with obs-flip down

    # --- running panels ---------------------------------------------------------------------------
    def psql(self, sql):
        r = subprocess.run(["psql", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-d", self.db_url, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, f"psql failed: {r.stderr}\n--- query ---\n{sql}")
        rows = list(csv.reader(io.StringIO(r.stdout)))
        return rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]

    def variables(self, board, expander, selected=None):
        """Runs the dashboard's query variables in order (they may chain); all values selected
        ("All") unless `selected` names the values of a variable."""
        out = {}
        for var in board.get("templating", {}).get("list", []):
            self.assertEqual(var["type"], "query", var)
            self.assertEqual(var["datasource"]["uid"], "secplat-postgres")
            expander.variables = out
            _, rows = self.psql(expander.expand(var["query"]))
            values = [list(r.values())[0] for r in rows]
            if selected and var["name"] in selected:
                values = selected[var["name"]]
            out[var["name"]] = {"values": values, "multi": var["multi"], "includeAll": var["includeAll"]}
        expander.variables = out
        return out

    def run_board(self, name, selected=None):
        """{panel title: rows of its first SQL target}, every SQL target run."""
        board = self.dashboards[name]
        now = datetime.datetime.now(datetime.timezone.utc)
        # `to` a little in the past: every probe result with ts <= to is written by now.
        expander = Expander(self.started - datetime.timedelta(minutes=5), now - datetime.timedelta(seconds=3), "1s")
        self.variables(board, expander, selected)
        results = {}
        for panel, target in sql_targets(board):
            self.assertEqual(target["datasource"]["uid"], "secplat-postgres", panel["title"])
            try:
                sql = expander.expand(target["rawSql"])
            except ExpansionError as e:
                self.fail(f"{name} / {panel['title']}: {e}")
            _, rows = self.psql(sql)
            if target["format"] == "time_series":
                for row in rows:
                    self.assertIn("time", row, panel["title"])
            results.setdefault(panel["title"], rows)
        return results, expander

    # --- the tests ---------------------------------------------------------------------------------
    def test_dashboards_are_generated_from_their_source(self):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "deploy", "grafana", "build_dashboards.py"), "--check"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_dashboard_json_shape(self):
        uids = set()
        for name, board in self.dashboards.items():
            self.assertEqual(board["schemaVersion"], 39, name)
            self.assertNotIn(board["uid"], uids)
            uids.add(board["uid"])
            ids = [p["id"] for p in board["panels"]]
            self.assertEqual(len(ids), len(set(ids)), f"{name}: panel ids unique")
            cells = {}
            for p in board["panels"]:
                self.assertTrue(p["title"] and p["title"] != "Panel Title", f"{name}: panel {p['id']} titled")
                g = p["gridPos"]
                self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
                for cell in ((x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])):
                    self.assertNotIn(cell, cells, f"{name}: {p['title']} overlaps {cells.get(cell)}")
                    cells[cell] = p["title"]
                if p["type"] == "row":
                    continue
                self.assertIn(p["datasource"]["uid"], ("secplat-postgres", "secplat-prometheus"), p["title"])
                d = p["fieldConfig"]["defaults"]
                self.assertIn("unit", d, p["title"])
                self.assertTrue(d["thresholds"]["steps"] and d["thresholds"]["steps"][0]["value"] is None, p["title"])
                self.assertTrue(p["targets"], p["title"])
        self.assertIn(POSTURE_UID, uids)
        titles = {b["title"] for b in self.dashboards.values()}
        self.assertEqual(titles, {"SecPlat - Asset Posture", "SecPlat - Findings, Jobs and Incidents",
                                  "SecPlat - Operations"})
        posture = [b for b in self.dashboards.values() if b["uid"] == POSTURE_UID][0]
        asset_var = [v for v in posture["templating"]["list"] if v["name"] == "asset"][0]
        self.assertEqual(asset_var["type"], "query", "asset comes from SQL, not a fixed list")
        score = [p for p in posture["panels"] if p["title"] == "Overall Posture Score"][0]
        self.assertEqual([(s["color"], s["value"]) for s in score["fieldConfig"]["defaults"]["thresholds"]["steps"]],
                         [("red", None), ("orange", 50), ("green", 80)])

    def test_posture_value_mappings_cover_every_status(self):
        board = [b for b in self.dashboards.values() if b["uid"] == POSTURE_UID][0]
        checked = 0
        for p in board["panels"]:
            if p["type"] == "row":
                continue
            lists = [p["fieldConfig"]["defaults"]["mappings"]]
            for o in p["fieldConfig"]["overrides"]:
                lists += [prop["value"] for prop in o["properties"] if prop["id"] == "mappings"]
            for mappings in lists:
                for m in mappings:
                    self.assertEqual(m["type"], "value", p["title"])
                    keys = set(m["options"])
                    if keys & STATUS_NUMS:
                        self.assertEqual(keys, STATUS_NUMS, f"{p['title']}: status mapping covers 1, 0, -1, -2")
                    else:
                        self.assertEqual(keys, POSTURE_STATES, f"{p['title']}: state mapping")
                    checked += 1
        self.assertGreaterEqual(checked, 6)

    def test_expander_refuses_what_grafana_would_not_expand(self):
        e = Expander(self.started, self.started + datetime.timedelta(hours=1), "1m", {})
        with self.assertRaises(ExpansionError):
            e.expand("SELECT $__unixEpochGroupAlias(to_timestamp(ts),1m) FROM t")  # ')' in an argument
        with self.assertRaises(ExpansionError):
            e.expand("SELECT $__nosuchMacro(ts) FROM t")
        with self.assertRaises(ExpansionError):
            e.expand("SELECT 1 WHERE x = ANY(ARRAY[$undefined]::text[])")
        e.variables = {"v": {"values": ["a'b", "c"], "multi": True, "includeAll": True}}
        self.assertEqual(e.expand("SELECT $__unixEpochGroupAlias(ts/1000,$__interval) WHERE k IN ($v) AND "
                                  "$__unixEpochFilter(ts)"),
                         "SELECT floor((ts/1000)/60)*60 AS \"time\" WHERE k IN ('a''b','c') AND "
                         f"ts >= {int(self.started.timestamp())} AND ts <= {int(self.started.timestamp()) + 3600}")

    def test_posture_panels_show_the_seeded_state(self):
        res, expander = self.run_board("secplat-asset-posture.json")
        assets = self.api("GET", "/assets/?limit=500")
        keys = sorted(a["asset_key"] for a in assets)
        self.assertEqual(sorted(expander.variables["asset"]["values"]), keys)
        self.assertEqual(sorted(expander.variables["environment"]["values"]), sorted({a["environment"] for a in assets}))
        self.assertIn("(none)", expander.variables["owner"]["values"])

        def one(title):
            rows = res[title]
            self.assertEqual(len(rows), 1, (title, rows))
            return list(rows[0].values())[0]

        summary = self.api("GET", "/posture/summary")
        items = self.api("GET", "/posture?limit=500")["items"]
        by_health = {}
        for i in items:
            by_health[i["health_status"]] = by_health.get(i["health_status"], 0) + 1
        self.assertEqual(int(one("Down Assets")), 1)
        self.assertEqual(int(one("Down Assets")), by_health.get("down", 0))
        self.assertEqual(int(one("Healthy Assets")), by_health.get("up", 0))
        self.assertEqual(int(one("Stale Assets")), by_health.get("stale", 0))
        self.assertEqual(int(one("Unknown Assets")), by_health.get("unknown", 0))
        self.assertGreaterEqual(int(one("Unknown Assets")), 1)  # obs-inventory is never probed
        colours = [int(one(f"{c} Assets")) for c in ("Green", "Amber", "Red")]
        self.assertEqual(sum(colours), len(keys))
        self.assertEqual(colours, [summary["green"], summary["amber"], summary["red"]])
        self.assertAlmostEqual(float(one("Overall Posture Score")), summary["posture_score_avg"], delta=0.05)
        self.assertEqual(int(one("Asset Health Overview")), -2)
        self.assertEqual(int(one("Latest Probe Result (worst of selected)")), -2)

        current = {r["asset_key"]: r for r in res["Asset Posture (Current)"]}
        self.assertEqual(sorted(current), keys)
        self.assertEqual((current["obs-flip"]["status_num"], current["obs-flip"]["posture_state"]), ("-2", "red"))
        self.assertEqual((current["obs-stable"]["status"], current["obs-stable"]["posture_score"]), ("up", "100"))
        self.assertEqual((current["obs-inventory"]["status_num"], current["obs-inventory"]["posture_state"]),
                         ("-1", "red"))
        triage = res["Staleness & Last Status Change (triage)"]
        self.assertEqual(sorted(r["asset_key"] for r in triage), keys)
        self.assertEqual(triage[0]["posture_score"], "0", "worst first")

        latest = {r["asset_key"]: r for r in res["Latest Health Check per Asset"]}
        self.assertEqual((latest["obs-flip"]["status"], latest["obs-flip"]["status_num"], latest["obs-flip"]["code"]),
                         ("down", "-2", "503"))
        self.assertEqual(latest["obs-stable"]["status_num"], "1")
        self.assertNotIn("obs-inventory", latest)

        total = int(one("Total Health Events"))
        per_minute = res["Health Events per Minute"]
        self.assertEqual(sum(int(r["events"]) for r in per_minute), total)
        self.assertTrue({r["metric"] for r in per_minute} >= {"obs-stable", "obs-flip"})
        self.assertGreater(total, 10)
        availability = float(one("Availability in Range"))
        self.assertTrue(0 < availability < 100, availability)
        self.assertTrue({r["metric"] for r in res["Probe Latency (ms)"]} >= {"obs-stable", "obs-flip"})

        history = [float(r["posture score"]) for r in res["Overall Posture Score (history)"]]
        self.assertTrue(all(0 <= v <= 100 for v in history), history)
        self.assertIn(100.0, history, "all probed assets up before obs-flip stopped")
        self.assertTrue(any(v < 100 for v in history), "obs-flip down shows in the history")

    def test_posture_panels_follow_the_asset_selection(self):
        res, _ = self.run_board("secplat-asset-posture.json", selected={"asset": ["obs-flip"]})
        first = {t: list(rows[0].values())[0] for t, rows in res.items() if len(rows) == 1}
        self.assertEqual(first["Down Assets"], "1")
        self.assertEqual(first["Healthy Assets"], "0")
        self.assertEqual((first["Green Assets"], first["Amber Assets"], first["Red Assets"]), ("0", "0", "1"))
        self.assertEqual(float(first["Overall Posture Score"]), 0.0)
        self.assertEqual([r["asset_key"] for r in res["Asset Posture (Current)"]], ["obs-flip"])
        self.assertEqual({r["metric"] for r in res["Health Events per Minute"]}, {"obs-flip"})
        # An empty selection is still valid SQL and counts nothing.
        res, _ = self.run_board("secplat-asset-posture.json", selected={"asset": []})
        self.assertEqual(list(res["Down Assets"][0].values())[0], "0")
        self.assertEqual(res["Asset Posture (Current)"], [])

    def test_provisioning_matches_the_dashboards(self):
        with open(os.path.join(PROVISIONING, "datasources", "secplat.yaml")) as f:
            ds = {d["uid"]: d for d in yaml.safe_load(f)["datasources"]}
        self.assertEqual(set(ds), {"secplat-postgres", "secplat-prometheus"})
        pg = ds["secplat-postgres"]
        self.assertEqual(pg["type"], "grafana-postgresql-datasource")
        self.assertEqual((pg["url"], pg["user"], pg["jsonData"]["database"], pg["jsonData"]["sslmode"]),
                         ("${SECPLAT_GRAFANA_PG_HOST}", "${SECPLAT_GRAFANA_PG_USER}", "${SECPLAT_GRAFANA_PG_DB}",
                          "${SECPLAT_GRAFANA_PG_SSLMODE}"))
        self.assertTrue(pg["secureJsonData"]["password"].startswith("$__file{"), "no password in the file")
        with open(os.path.join(PROVISIONING, "dashboards", "secplat.yaml")) as f:
            provider = yaml.safe_load(f)["providers"][0]
        self.assertEqual((provider["folder"], provider["options"]["path"]), ("SecPlat", "/var/lib/grafana/dashboards"))
        for board in self.dashboards.values():
            for p in board["panels"]:
                for t in p.get("targets", []):
                    self.assertEqual(ds[t["datasource"]["uid"]]["type"], t["datasource"]["type"], p["title"])

    def test_grafana_alert_rules_have_thresholds_and_fire_on_the_seeded_data(self):
        with open(os.path.join(PROVISIONING, "alerting", "secplat-posture.yaml")) as f:
            rules = {r["uid"]: r for g in yaml.safe_load(f)["groups"] for r in g["rules"]}
        expander = Expander(self.started, datetime.datetime.now(datetime.timezone.utc), "1m")
        fired = {}
        for uid, rule in rules.items():
            steps = {d["refId"]: d for d in rule["data"]}
            cond = steps[rule["condition"]]["model"]
            self.assertEqual(cond["type"], "threshold", uid)
            evaluator = cond["conditions"][0]["evaluator"]
            self.assertEqual((evaluator["type"], len(evaluator["params"])), ("gt", 1), f"{uid}: explicit threshold")
            self.assertRegex(rule["for"], r"^\d+[smh]$", uid)
            self.assertIn(rule["labels"]["severity"], ("critical", "warning"), uid)
            self.assertTrue(rule["annotations"]["summary"] and rule["annotations"]["description"], uid)
            query = steps["A"]
            self.assertEqual(query["datasourceUid"], "secplat-postgres", uid)
            _, rows = self.psql(expander.expand(query["model"]["rawSql"]))
            self.assertEqual(len(rows), 1, uid)
            fired[uid] = float(list(rows[0].values())[0]) > evaluator["params"][0]
        summary = self.api("GET", "/posture/summary")
        self.assertGreaterEqual(summary["red"], 1)
        self.assertEqual(fired, {"secplat-any-red": True, "secplat-stale-assets": False,
                                 "secplat-incident-sla-breached": True})

    def test_findings_jobs_incidents_panels_show_the_seeded_data(self):
        res, _ = self.run_board("secplat-findings-jobs-incidents.json")
        findings = self.api("GET", "/findings/?limit=500")
        open_f = [f for f in findings if f["status"] in ("open", "in_progress")]
        sev = res["Open Findings by Severity"][0]
        for s in ("critical", "high", "medium", "low", "info"):
            self.assertEqual(int(sev[s]), sum(1 for f in open_f if f["severity"] == s), s)
        self.assertGreaterEqual(int(sev["critical"]), 1)
        status = res["Findings by Status"][0]
        for s in ("open", "in_progress", "accepted_risk", "remediated"):
            self.assertEqual(int(status[s]), sum(1 for f in findings if f["status"] == s), s)
        self.assertGreaterEqual(int(status["remediated"]), 1)

        top = res["Top Risky Assets"]
        self.assertEqual(int(top[0]["top_risk_score"]), max(f["risk_score"] for f in open_f))
        self.assertEqual({r["asset_key"] for r in top}, {f["asset_key"] for f in open_f})
        self.assertNotIn("obs-inventory", {r["asset_key"] for r in top}, "its only finding is remediated")
        self.assertEqual(len(res["Riskiest Open Findings"]), len(open_f))

        jobs = self.api("GET", "/jobs?limit=200")["items"]
        counts = res["Jobs in Range by Status"][0]
        self.assertEqual(sum(int(v) for v in counts.values()), len(jobs))
        self.assertEqual(int(counts[self.job["status"]]), sum(1 for j in jobs if j["status"] == self.job["status"]))
        outcomes = res["Job Outcomes over Time"]
        self.assertEqual(sum(int(r["jobs"]) for r in outcomes), len(jobs))
        durations = {r["job_type"]: r for r in res["Job Durations by Type"]}
        self.assertGreaterEqual(int(durations["health_http"]["finished"]), 1)
        self.assertGreaterEqual(float(durations["health_http"]["max_seconds"]), 0)

        incidents = self.api("GET", "/incidents?limit=200")["items"]
        open_i = [i for i in incidents if i["status"] not in ("resolved", "closed")]
        by_sev = res["Open Incidents by Severity"][0]
        for s in ("critical", "high", "medium", "low", "info"):
            self.assertEqual(int(by_sev[s]), sum(1 for i in open_i if i["severity"] == s), s)
        self.assertGreaterEqual(int(by_sev["high"]), 1)
        now_ms = time.time() * 1000
        breached = [i for i in open_i if i["sla_due_at"] and iso_ms(i["sla_due_at"]) < now_ms]
        self.assertEqual(int(res["Open Incidents past SLA"][0]["breached"]), len(breached))
        self.assertEqual(len(breached), 1, "obs breached")
        self.assertEqual(int(res["Resolved Late in Range"][0]["late"]), 1)
        self.assertEqual({r["title"] for r in res["SLA Breaches"]}, {"obs breached", "obs resolved late"})
        resolved = [i for i in incidents if i["resolved_at"]]
        mttr = sum(iso_ms(i["resolved_at"]) - iso_ms(i["created_at"]) for i in resolved) / len(resolved) / 1000
        self.assertAlmostEqual(float(res["Mean Time to Resolve"][0]["mttr"]), mttr, delta=0.01)
        self.assertGreater(mttr, 1.0)
        self.assertEqual(sum(int(r["incidents"]) for r in res["Incidents Opened"]), len(incidents))


if __name__ == "__main__":
    unittest.main(verbosity=2)
