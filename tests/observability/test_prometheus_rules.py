"""The Prometheus side of deploy/: promtool accepts prometheus.yml and the alert rules, the rules'
unit tests pass, every rule has an explicit threshold, a `for:`, a severity and annotations, every
PromQL expression of the dashboards parses, and every metric named in the dashboards and rules is
one SecPlat exports (a typo fails)."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PROM_DIR = os.path.join(ROOT, "deploy", "prometheus")
DASHBOARDS = os.path.join(ROOT, "deploy", "grafana", "dashboards")

# The metrics SecPlat exports (the list agreed in issue 8), plus `up`, which Prometheus makes per target.
METRICS = {
    "secplat_http_requests_total", "secplat_http_request_duration_seconds_bucket", "secplat_http_connections_open",
    "secplat_queue_length", "secplat_queue_dlq_length", "secplat_queue_pending", "secplat_queue_lag",
    "secplat_queue_oldest_pending_idle_seconds", "secplat_build_info", "secplat_job_duration_seconds_bucket",
    "secplat_probe_duration_seconds_bucket", "secplat_probe_latency_seconds", "secplat_probes_total",
    "secplat_probe_failures_total", "secplat_derive_lag_seconds_bucket", "secplat_derive_events_total",
    "secplat_notify_deliveries_total", "secplat_scanner_duration_seconds_bucket", "secplat_scanner_bytes_total",
    "secplat_scanner_files_total", "secplat_scans_total",
}
BUILTIN_SERIES = {"up"}
FUNCTIONS = {"rate", "irate", "increase", "delta", "idelta", "deriv", "sum", "min", "max", "avg", "count", "topk",
             "bottomk", "quantile", "stddev", "histogram_quantile", "absent", "absent_over_time", "abs", "clamp_min",
             "clamp_max", "round", "label_replace", "vector", "scalar", "time", "avg_over_time", "max_over_time",
             "min_over_time", "sum_over_time", "count_over_time", "changes", "resets", "sort", "sort_desc"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def metric_names(expr):
    """The series names an expression selects: strings, label matchers, ranges and grouping
    label lists removed; what is left that is neither a function, a keyword nor a number."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        word = m.group(0)
        if word in KEYWORDS or word in FUNCTIONS:
            continue
        after = e[m.end():].lstrip()
        if after.startswith("("):
            raise AssertionError(f"unknown function {word!r} in {expr}")
        if re.fullmatch(r"\d.*", word):
            continue
        names.add(word)
    return names


def dashboard_exprs():
    for name in sorted(os.listdir(DASHBOARDS)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(DASHBOARDS, name)) as f:
            board = json.load(f)
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                if "expr" in t:
                    yield f"{name} / {panel['title']} / {t['refId']}", t["expr"]


def rules():
    with open(os.path.join(PROM_DIR, "secplat-rules.yml")) as f:
        doc = yaml.safe_load(f)
    for group in doc["groups"]:
        for rule in group["rules"]:
            yield group["name"], rule


def promtool(*args, cwd=PROM_DIR):
    r = subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    return r.returncode, r.stdout + r.stderr


class PrometheusRulesTest(unittest.TestCase):
    def test_config_checks_with_its_rules_and_token_file(self):
        with tempfile.TemporaryDirectory(prefix="secplat-prom-") as tmp:
            for name in ("prometheus.yml", "secplat-rules.yml"):
                shutil.copy(os.path.join(PROM_DIR, name), tmp)
            os.mkdir(os.path.join(tmp, "secrets"))
            with open(os.path.join(tmp, "secrets", "secplat_metrics_token"), "w") as f:
                f.write("spk_test\n")
            code, out = promtool("check", "config", "prometheus.yml", cwd=tmp)
            self.assertEqual(code, 0, out)
            self.assertIn("SUCCESS", out)
            # Without the token file the config is refused: the bearer token really is read from it.
            os.remove(os.path.join(tmp, "secrets", "secplat_metrics_token"))
            code, out = promtool("check", "config", "prometheus.yml", cwd=tmp)
            self.assertNotEqual(code, 0, out)
        with open(os.path.join(PROM_DIR, "prometheus.yml")) as f:
            cfg = yaml.safe_load(f)
        job = [j for j in cfg["scrape_configs"] if j["job_name"] == "secplat"][0]
        self.assertEqual(job["authorization"]["credentials_file"], "secrets/secplat_metrics_token")
        self.assertIn("secplat-rules.yml", cfg["rule_files"])

    def test_rules_check_and_unit_tests_pass(self):
        code, out = promtool("check", "rules", "secplat-rules.yml")
        self.assertEqual(code, 0, out)
        code, out = promtool("test", "rules", "secplat-rules.test.yml")
        self.assertEqual(code, 0, out)
        self.assertIn("SUCCESS", out)

    def test_every_rule_has_threshold_for_severity_and_annotations(self):
        names = set()
        with open(os.path.join(PROM_DIR, "secplat-rules.test.yml")) as f:
            tested = {t["alertname"] for case in yaml.safe_load(f)["tests"] for t in case["alert_rule_test"]
                      if t.get("exp_alerts")}
        for group, rule in rules():
            name = rule["alert"]
            names.add(name)
            self.assertTrue(re.search(r"(>=|<=|==|!=|>|<)\s*[0-9.]+", rule["expr"]) or "absent(" in rule["expr"],
                            f"{name}: explicit threshold")
            self.assertRegex(str(rule.get("for", "")), r"^\d+[smh]$", f"{name}: for")
            self.assertIn(rule["labels"]["severity"], ("critical", "warning", "info"), name)
            self.assertTrue(rule["annotations"].get("summary") and rule["annotations"].get("description"), name)
        wanted = {"SecPlatAssetDown", "SecPlatProbesFailing", "SecPlatDeriveLagHigh", "SecPlatQueueLagHigh",
                  "SecPlatDLQGrowing", "SecPlatHTTP5xxRatioHigh", "SecPlatNotificationsFailing", "SecPlatJobsFailing",
                  "SecPlatTargetDown", "SecPlatRoleAbsent"}
        self.assertLessEqual(wanted, names)
        self.assertEqual(names - tested, set(), "every alert fires in a unit test")

    def test_metric_names_are_the_exported_ones(self):
        used = set()
        exprs = list(dashboard_exprs()) + [(f"rule {r['alert']}", r["expr"]) for _, r in rules()]
        self.assertGreater(len(exprs), 30)
        for where, expr in exprs:
            names = metric_names(expr)
            self.assertTrue(names, f"{where}: selects no series")
            unknown = names - METRICS - BUILTIN_SERIES
            self.assertEqual(unknown, set(), f"{where}: not a SecPlat metric")
            self.assertIn('job="secplat"', expr, f"{where}: selects the secplat scrape job")
            used |= names
        self.assertEqual(METRICS - used, set(), "every exported metric is on a dashboard or in a rule")

    def test_metric_name_check_catches_a_typo(self):
        self.assertEqual(metric_names('sum by (route) (rate(secplat_http_request_total{job="secplat"}[5m]))'),
                         {"secplat_http_request_total"})
        self.assertEqual(metric_names('histogram_quantile(0.99, sum by (le) (rate(x_bucket{le="+Inf"}[5m]))) > 2'),
                         {"x_bucket"})

    def test_dashboard_promql_parses(self):
        """promtool parses PromQL only inside rule files: every dashboard expression becomes a
        recording rule of a scratch file, with Grafana's interval variables replaced."""
        records = []
        for i, (where, expr) in enumerate(dashboard_exprs()):
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            self.assertNotIn("$", expr, where)
            records.append({"record": f"dashboard:expr_{i}", "expr": expr})
        with tempfile.TemporaryDirectory(prefix="secplat-prom-") as tmp:
            path = os.path.join(tmp, "dashboards.rules.yml")
            with open(path, "w") as f:
                yaml.safe_dump({"groups": [{"name": "dashboards", "rules": records}]}, f)
            code, out = promtool("check", "rules", path, cwd=tmp)
            self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
