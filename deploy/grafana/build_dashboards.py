#!/usr/bin/env python3
"""Writes the SecPlat Grafana dashboards (deploy/grafana/dashboards/*.json) from the panel
definitions below. Edit this file, run it, commit both; tests/observability checks they agree.

SQL conventions (PostgreSQL datasource):
* Times in the schema are epoch milliseconds (BIGINT). Range filters are written
  `ts BETWEEN $__unixEpochFrom()::bigint * 1000 AND $__unixEpochTo()::bigint * 1000 + 999` so the
  (asset_key, ts) and (ts) indexes are used (without the cast, seconds * 1000 overflows integer);
  buckets use `$__unixEpochGroupAlias(ts/1000,<interval>)`.
* Grafana's macro parser stops a macro's arguments at the first ')', so arguments never contain
  parentheses.
* Multi-value variables are used as `col = ANY(ARRAY[$var]::text[])`: Grafana quotes each value
  for SQL datasources, and an empty selection stays valid SQL (`ARRAY[]::text[]`).
* "Current" panels read `assets LEFT JOIN asset_status`: an asset the deriver has not written yet
  counts as unknown/red, so green + amber + red always equals the number of assets.
"""
import json
import os
import sys

PG = {"type": "grafana-postgresql-datasource", "uid": "secplat-postgres"}
PROM = {"type": "prometheus", "uid": "secplat-prometheus"}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards")

NOW_MS = "(extract(epoch from now())*1000)::bigint"
RANGE = "BETWEEN $__unixEpochFrom()::bigint * 1000 AND $__unixEpochTo()::bigint * 1000 + 999"
ASSET_SEL = "ARRAY[$asset]::text[]"

# Status numbers: up=1, stale=0, unknown=-1, down=-2. Every mapping covers all four.
STATUS_MAPPING = [{"type": "value", "options": {
    "1": {"text": "UP", "color": "green", "index": 0},
    "0": {"text": "STALE", "color": "orange", "index": 1},
    "-1": {"text": "UNKNOWN", "color": "purple", "index": 2},
    "-2": {"text": "DOWN", "color": "red", "index": 3}}}]
OVERVIEW_MAPPING = [{"type": "value", "options": {
    "1": {"text": "All assets healthy", "color": "green", "index": 0},
    "0": {"text": "One or more assets stale", "color": "orange", "index": 1},
    "-1": {"text": "One or more assets unknown", "color": "purple", "index": 2},
    "-2": {"text": "One or more assets down", "color": "red", "index": 3}}}]
STATE_MAPPING = [{"type": "value", "options": {
    "green": {"text": "GREEN", "color": "green", "index": 0},
    "amber": {"text": "AMBER", "color": "orange", "index": 1},
    "red": {"text": "RED", "color": "red", "index": 2}}}]


def thresholds(*steps):
    """steps: (color, value) pairs, the first with value None (the base)."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


SCORE_THRESHOLDS = thresholds(("red", None), ("orange", 50), ("green", 80))
STATUS_THRESHOLDS = thresholds(("red", None), ("purple", -1), ("orange", 0), ("green", 1))


def sql(ref, text, fmt="table"):
    return {"refId": ref, "datasource": PG, "editorMode": "code", "format": fmt, "rawQuery": True,
            "rawSql": text.strip()}


def prom(ref, expr, legend="__auto", instant=False, fmt="time_series"):
    t = {"refId": ref, "datasource": PROM, "editorMode": "code", "expr": expr.strip(), "legendFormat": legend,
         "range": not instant, "instant": instant}
    if fmt != "time_series":
        t["format"] = fmt
    return t


class Board:
    def __init__(self):
        self.panels = []
        self.next_id = 1

    def add(self, ptype, title, grid, targets, unit="short", th=None, mappings=None, options=None,
            overrides=None, description="", custom=None, decimals=None, minmax=None, interval=None):
        x, y, w, h = grid
        defaults = {"unit": unit, "thresholds": th or thresholds(("green", None)),
                    "mappings": mappings or [], "color": {"mode": "thresholds"}}
        if ptype == "timeseries":
            defaults["color"] = {"mode": "palette-classic"}
            defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "auto",
                                  "spanNulls": False}
        if custom:
            defaults["custom"] = {**defaults.get("custom", {}), **custom}
        if decimals is not None:
            defaults["decimals"] = decimals
        if minmax:
            defaults["min"], defaults["max"] = minmax
        panel = {"id": self.next_id, "type": ptype, "title": title, "description": description,
                 "gridPos": {"x": x, "y": y, "w": w, "h": h},
                 "datasource": targets[0]["datasource"], "targets": targets,
                 "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
                 "options": options or default_options(ptype)}
        if interval:
            panel["interval"] = interval
        self.next_id += 1
        self.panels.append(panel)
        return panel

    def row(self, title, y):
        self.panels.append({"id": self.next_id, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
        self.next_id += 1


def default_options(ptype):
    if ptype == "stat":
        return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background", "graphMode": "none", "justifyMode": "auto", "orientation": "auto",
                "textMode": "auto"}
    if ptype == "timeseries":
        return {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"}}
    if ptype == "table":
        return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    if ptype == "bargauge":
        return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "orientation": "horizontal", "displayMode": "basic", "showUnfilled": True}
    return {}


def column(name, **props):
    """A field override by column name: unit=..., mappings=..., displayName=..., cellType=..."""
    out = []
    for key, value in props.items():
        if key == "cellType":
            out.append({"id": "custom.cellOptions", "value": {"type": value}})
        elif key == "width":
            out.append({"id": "custom.width", "value": value})
        elif key == "thresholds":
            out.append({"id": "thresholds", "value": value})
        else:
            out.append({"id": key, "value": value})
    return {"matcher": {"id": "byName", "options": name}, "properties": out}


def query_var(name, label, query, ds=PG):
    return {"name": name, "label": label, "type": "query", "datasource": ds, "query": query, "definition": query,
            "refresh": 2, "multi": True, "includeAll": True, "sort": 1, "hide": 0,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "options": [], "regex": ""}


def dashboard(uid, title, board, tags, templating=None, time_from="now-6h", refresh="1m", description=""):
    return {"uid": uid, "title": title, "description": description, "tags": tags, "timezone": "browser",
            "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1, "refresh": refresh,
            "time": {"from": time_from, "to": "now"}, "timepicker": {},
            "templating": {"list": templating or []},
            "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                      "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                      "name": "Annotations & Alerts", "type": "dashboard"}]},
            "links": [], "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "", "panels": board.panels}


# The current state of every selected asset: assets without a derived row are unknown/red/0.
CURRENT = f"""
WITH cur AS (
  SELECT a.asset_key, COALESCE(s.status_num, -1) AS status_num, COALESCE(s.posture_state, 'red') AS posture_state,
         COALESCE(s.posture_score, 0) AS posture_score
  FROM assets a LEFT JOIN asset_status s ON s.asset_key = a.asset_key
  WHERE a.asset_key = ANY({ASSET_SEL})
)"""


def posture_dashboard():
    b = Board()
    b.row("Current posture", 0)
    counts = [("Healthy Assets", "status_num = 1", thresholds(("green", None))),
              ("Stale Assets", "status_num = 0", thresholds(("green", None), ("orange", 1))),
              ("Unknown Assets", "status_num = -1", thresholds(("green", None), ("purple", 1))),
              ("Down Assets", "status_num = -2", thresholds(("green", None), ("red", 1)))]
    for i, (title, cond, th) in enumerate(counts):
        b.add("stat", title, (i * 4, 1, 4, 4),
              [sql("A", f"{CURRENT}\nSELECT count(*) FILTER (WHERE {cond}) AS \"assets\" FROM cur")],
              th=th, description=f"Selected assets whose current status is {title.split()[0].lower()}.")
    b.add("stat", "Overall Posture Score", (16, 1, 8, 4),
          [sql("A", f"{CURRENT}\nSELECT round(avg(posture_score)::numeric, 1) AS \"posture score\" FROM cur")],
          unit="none", th=SCORE_THRESHOLDS, minmax=(0, 100), decimals=1,
          description="Mean posture score of the selected assets (green 100, amber 60, red 0): "
                      "red below 50, orange from 50, green from 80.")
    for i, (state, color) in enumerate([("green", "green"), ("amber", "orange"), ("red", "red")]):
        th = thresholds(("green", None)) if state == "green" else thresholds(("green", None), (color, 1))
        b.add("stat", f"{state.capitalize()} Assets", (i * 4, 5, 4, 4),
              [sql("A", f"{CURRENT}\nSELECT count(*) FILTER (WHERE posture_state = '{state}') AS \"assets\" FROM cur")],
              th=th, description=f"Selected assets whose posture state is {state}.")
    b.add("stat", "Asset Health Overview", (12, 5, 12, 4),
          [sql("A", f"{CURRENT}\nSELECT min(status_num) AS \"worst status\" FROM cur")],
          unit="none", mappings=OVERVIEW_MAPPING, th=STATUS_THRESHOLDS,
          options={**default_options("stat"), "textMode": "value"},
          description="The worst current status among the selected assets (up 1, stale 0, unknown -1, down -2).")

    b.add("table", "Asset Posture (Current)", (0, 9, 24, 9), [sql("A", f"""
SELECT a.asset_key, a.name, a.type, a.environment, COALESCE(a.owner, '') AS owner, a.criticality,
       COALESCE(s.status, 'unknown') AS status, COALESCE(s.status_num, -1) AS status_num,
       COALESCE(s.posture_state, 'red') AS posture_state, COALESCE(s.posture_score, 0) AS posture_score,
       s.reason, s.code, s.latency_ms, s.confidence, s.flapping = 1 AS flapping,
       to_timestamp(s.last_seen / 1000.0) AS last_seen
FROM assets a LEFT JOIN asset_status s ON s.asset_key = a.asset_key
WHERE a.asset_key = ANY({ASSET_SEL})
ORDER BY COALESCE(s.posture_score, 0), a.asset_key""")],
          overrides=[column("status_num", mappings=STATUS_MAPPING, cellType="color-background", displayName="status #"),
                     column("posture_state", mappings=STATE_MAPPING, cellType="color-background"),
                     column("posture_score", thresholds=SCORE_THRESHOLDS, cellType="color-text"),
                     column("latency_ms", unit="ms"), column("confidence", unit="percentunit"),
                     column("last_seen", unit="dateTimeAsIso")],
          description="One row per selected asset: inventory fields and the deriver's current verdict.")

    b.row("Health checks", 18)
    b.add("table", "Latest Health Check per Asset", (0, 19, 12, 8), [sql("A", f"""
SELECT DISTINCT ON (e.asset_key) e.asset_key, to_timestamp(e.ts / 1000.0) AS checked_at, e.status, e.status_num,
       e.code, e.latency_ms, e.error_class, e.tls_version
FROM health_events e
WHERE e.asset_key = ANY({ASSET_SEL}) AND e.ts {RANGE}
ORDER BY e.asset_key, e.ts DESC""")],
          overrides=[column("status_num", mappings=STATUS_MAPPING, cellType="color-background", displayName="status #"),
                     column("latency_ms", unit="ms"), column("checked_at", unit="dateTimeAsIso")],
          description="The newest probe result of each selected asset inside the time range.")
    b.add("stat", "Latest Probe Result (worst of selected)", (12, 19, 6, 4), [sql("A", f"""
SELECT min(status_num) AS "status" FROM (
  SELECT DISTINCT ON (asset_key) asset_key, status_num FROM health_events
  WHERE asset_key = ANY({ASSET_SEL}) AND ts {RANGE}
  ORDER BY asset_key, ts DESC
) latest""")],
          unit="none", mappings=STATUS_MAPPING, th=STATUS_THRESHOLDS,
          description="Worst of the selected assets' newest probe results in the range (raw, before debounce).")
    b.add("stat", "Availability in Range", (18, 19, 6, 4), [sql("A", f"""
SELECT 100.0 * count(*) FILTER (WHERE status_num = 1) / NULLIF(count(*), 0) AS "availability"
FROM health_events WHERE asset_key = ANY({ASSET_SEL}) AND ts {RANGE}""")],
          unit="percent", decimals=2, minmax=(0, 100),
          th=thresholds(("red", None), ("orange", 95), ("green", 99)),
          description="Share of successful probes of the selected assets in the time range.")
    b.add("stat", "Total Health Events", (12, 23, 12, 4), [sql("A", f"""
SELECT count(*) AS "events" FROM health_events WHERE asset_key = ANY({ASSET_SEL}) AND ts {RANGE}""")],
          description="Probe results recorded for the selected assets in the time range.")
    b.add("timeseries", "Probe Latency (ms)", (0, 27, 12, 8), [sql("A", f"""
SELECT $__unixEpochGroupAlias(ts/1000,$__interval), asset_key AS metric, avg(latency_ms) AS "latency"
FROM health_events
WHERE asset_key = ANY({ASSET_SEL}) AND ts {RANGE}
GROUP BY 1, 2 ORDER BY 1""", fmt="time_series")], unit="ms",
          description="Mean probe latency per asset and interval.")
    b.add("timeseries", "Health Events per Minute", (12, 27, 12, 8), [sql("A", f"""
SELECT $__unixEpochGroupAlias(ts/1000,1m), asset_key AS metric, count(*) AS "events"
FROM health_events
WHERE asset_key = ANY({ASSET_SEL}) AND ts {RANGE}
GROUP BY 1, 2 ORDER BY 1""", fmt="time_series")], unit="short", custom={"drawStyle": "bars", "fillOpacity": 60},
          description="Probe results recorded per asset and minute.")

    b.row("History and triage", 35)
    b.add("timeseries", "Overall Posture Score (history)", (0, 36, 12, 8), [sql("A", f"""
SELECT "time", avg(score) AS "posture score" FROM (
  SELECT DISTINCT ON (asset_key, $__unixEpochGroup(ts/1000,$__interval))
         $__unixEpochGroupAlias(ts/1000,$__interval), asset_key,
         CASE WHEN status_num = 1 THEN 100 ELSE 0 END AS score
  FROM health_events
  WHERE asset_key = ANY({ASSET_SEL}) AND ts {RANGE}
  ORDER BY asset_key, $__unixEpochGroup(ts/1000,$__interval), ts DESC
) last_per_bucket
GROUP BY 1 ORDER BY 1""", fmt="time_series")],
          unit="none", th=SCORE_THRESHOLDS, minmax=(0, 100), custom={"thresholdsStyle": {"mode": "line+area"}},
          description="From the health events (true history): per interval, each asset's last probe result "
                      "scores 100 if up and 0 if down, averaged over the assets probed in that interval. "
                      "Stale and flapping (amber) are judgements of the deriver and are not in the events.")
    b.add("table", "Staleness & Last Status Change (triage)", (12, 36, 12, 8), [sql("A", f"""
SELECT a.asset_key, a.name, COALESCE(s.posture_state, 'red') AS posture_state,
       COALESCE(s.posture_score, 0) AS posture_score, COALESCE(s.status_num, -1) AS status_num, s.reason,
       CASE WHEN s.last_seen IS NULL THEN NULL ELSE ({NOW_MS} - s.last_seen) / 1000 END AS staleness_seconds,
       to_timestamp(s.last_seen / 1000.0) AS last_seen,
       to_timestamp(s.last_status_change / 1000.0) AS last_status_change, s.previous_status,
       s.confidence, s.confidence_reason
FROM assets a LEFT JOIN asset_status s ON s.asset_key = a.asset_key
WHERE a.asset_key = ANY({ASSET_SEL})
ORDER BY COALESCE(s.posture_score, 0), staleness_seconds DESC NULLS FIRST""")],
          overrides=[column("status_num", mappings=STATUS_MAPPING, cellType="color-background", displayName="status #"),
                     column("posture_state", mappings=STATE_MAPPING, cellType="color-background"),
                     column("staleness_seconds", unit="s"), column("confidence", unit="percentunit"),
                     column("last_seen", unit="dateTimeAsIso"), column("last_status_change", unit="dateTimeAsIso")],
          description="Worst first: what to look at, how long it has been silent, and when it last changed.")

    templating = [
        query_var("environment", "Environment", "SELECT DISTINCT environment FROM assets ORDER BY 1"),
        query_var("owner", "Owner", "SELECT DISTINCT COALESCE(owner, '(none)') FROM assets ORDER BY 1"),
        query_var("asset", "Asset", "SELECT asset_key FROM assets WHERE environment = ANY(ARRAY[$environment]::text[]) "
                                    "AND COALESCE(owner, '(none)') = ANY(ARRAY[$owner]::text[]) ORDER BY 1"),
    ]
    return dashboard("afbkybzs8bzeof", "SecPlat - Asset Posture", b, ["secplat", "posture"], templating,
                     time_from="now-1h",
                     description="Asset health and posture from the SecPlat PostgreSQL store.")


OPEN_FINDING = "f.status IN ('open', 'in_progress')"
OPEN_INCIDENT = "i.status NOT IN ('resolved', 'closed')"
ENV_SEL = "ARRAY[$environment]::text[]"


def findings_dashboard():
    b = Board()
    sev = ["critical", "high", "medium", "low", "info"]
    sev_colors = {"critical": "dark-red", "high": "red", "medium": "orange", "low": "yellow", "info": "blue"}
    sev_overrides = [column(s, color={"mode": "fixed", "fixedColor": sev_colors[s]}) for s in sev]

    b.row("Findings", 0)
    cols = ",\n       ".join(f"count(*) FILTER (WHERE f.severity = '{s}') AS \"{s}\"" for s in sev)
    b.add("bargauge", "Open Findings by Severity", (0, 1, 8, 7), [sql("A", f"""
SELECT {cols}
FROM findings f JOIN assets a ON a.asset_id = f.asset_id
WHERE {OPEN_FINDING} AND a.environment = ANY({ENV_SEL})""")], unit="short", overrides=sev_overrides,
          description="Findings open or in progress, by severity.")
    statuses = ["open", "in_progress", "accepted_risk", "remediated"]
    cols = ",\n       ".join(f"count(*) FILTER (WHERE f.status = '{s}') AS \"{s}\"" for s in statuses)
    b.add("bargauge", "Findings by Status", (8, 1, 8, 7), [sql("A", f"""
SELECT {cols}
FROM findings f JOIN assets a ON a.asset_id = f.asset_id
WHERE a.environment = ANY({ENV_SEL})""")], unit="short", description="All findings by workflow status.")
    b.add("timeseries", "New Findings", (16, 1, 8, 7), [sql("A", f"""
SELECT $__unixEpochGroupAlias(f.first_seen/1000,$__interval), f.severity AS metric, count(*) AS "findings"
FROM findings f JOIN assets a ON a.asset_id = f.asset_id
WHERE f.first_seen {RANGE} AND a.environment = ANY({ENV_SEL})
GROUP BY 1, 2 ORDER BY 1""", fmt="time_series")], unit="short", custom={"drawStyle": "bars", "fillOpacity": 60},
          description="Findings first seen per interval, by severity.")
    b.add("table", "Top Risky Assets", (0, 8, 12, 8), [sql("A", f"""
SELECT a.asset_key, a.name, a.environment, a.criticality,
       count(*) AS active_findings,
       count(*) FILTER (WHERE f.severity IN ('critical', 'high')) AS critical_high,
       max(f.risk_score) AS top_risk_score,
       COALESCE(s.posture_state, 'red') AS posture_state
FROM findings f JOIN assets a ON a.asset_id = f.asset_id
LEFT JOIN asset_status s ON s.asset_key = a.asset_key
WHERE {OPEN_FINDING} AND a.environment = ANY({ENV_SEL})
GROUP BY a.asset_key, a.name, a.environment, a.criticality, s.posture_state
ORDER BY top_risk_score DESC, active_findings DESC, a.asset_key
LIMIT 10""")],
          overrides=[column("top_risk_score", thresholds=thresholds(("green", None), ("yellow", 40), ("orange", 70),
                                                                   ("red", 85)), cellType="color-background"),
                     column("posture_state", mappings=STATE_MAPPING, cellType="color-background")],
          description="Assets with open findings, by their highest risk score.")
    b.add("table", "Riskiest Open Findings", (12, 8, 12, 8), [sql("A", f"""
SELECT f.finding_id, a.asset_key, f.title, f.severity, f.status, f.risk_score, f.risk_level, f.source,
       to_timestamp(f.last_seen / 1000.0) AS last_seen
FROM findings f JOIN assets a ON a.asset_id = f.asset_id
WHERE {OPEN_FINDING} AND a.environment = ANY({ENV_SEL})
ORDER BY f.risk_score DESC, f.last_seen DESC
LIMIT 20""")], overrides=[column("last_seen", unit="dateTimeAsIso")],
          description="The 20 open findings with the highest risk score.")

    b.row("Scan jobs", 16)
    job_statuses = ["queued", "running", "done", "failed"]
    cols = ",\n       ".join(f"count(*) FILTER (WHERE status = '{s}') AS \"{s}\"" for s in job_statuses)
    b.add("stat", "Jobs in Range by Status", (0, 17, 8, 6), [sql("A", f"""
SELECT {cols}
FROM scan_jobs WHERE created_at {RANGE}""")], unit="short",
          overrides=[column("failed", thresholds=thresholds(("green", None), ("red", 1)))],
          options={**default_options("stat"), "colorMode": "value"},
          description="Scan jobs created in the time range, by current status.")
    b.add("timeseries", "Job Outcomes over Time", (8, 17, 16, 6), [sql("A", f"""
SELECT $__unixEpochGroupAlias(created_at/1000,$__interval), status AS metric, count(*) AS "jobs"
FROM scan_jobs WHERE created_at {RANGE}
GROUP BY 1, 2 ORDER BY 1""", fmt="time_series")], unit="short", custom={"drawStyle": "bars", "fillOpacity": 60},
          overrides=[column("failed", color={"mode": "fixed", "fixedColor": "red"}),
                     column("done", color={"mode": "fixed", "fixedColor": "green"})],
          description="Scan jobs per creation interval, by status.")
    b.add("table", "Job Durations by Type", (0, 23, 12, 7), [sql("A", f"""
SELECT job_type, count(*) AS finished,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       round(100.0 * count(*) FILTER (WHERE status = 'done') / NULLIF(count(*), 0), 1) AS success_pct,
       avg((finished_at - started_at) / 1000.0) AS avg_seconds,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY (finished_at - started_at) / 1000.0) AS p95_seconds,
       max((finished_at - started_at) / 1000.0) AS max_seconds
FROM scan_jobs
WHERE status IN ('done', 'failed') AND started_at IS NOT NULL AND finished_at IS NOT NULL AND created_at {RANGE}
GROUP BY job_type ORDER BY job_type""")],
          overrides=[column("avg_seconds", unit="s"), column("p95_seconds", unit="s"), column("max_seconds", unit="s"),
                     column("success_pct", unit="percent")],
          description="Finished jobs created in the range: counts and run time (started to finished).")
    b.add("timeseries", "Job Duration (mean per interval)", (12, 23, 12, 7), [sql("A", f"""
SELECT $__unixEpochGroupAlias(finished_at/1000,$__interval), job_type AS metric,
       avg((finished_at - started_at) / 1000.0) AS "duration"
FROM scan_jobs
WHERE finished_at {RANGE} AND started_at IS NOT NULL
GROUP BY 1, 2 ORDER BY 1""", fmt="time_series")], unit="s",
          description="Mean run time of the jobs finishing in each interval, by type.")

    b.row("Incidents", 30)
    cols = ",\n       ".join(f"count(*) FILTER (WHERE i.severity = '{s}') AS \"{s}\"" for s in sev)
    b.add("bargauge", "Open Incidents by Severity", (0, 31, 8, 7), [sql("A", f"""
SELECT {cols}
FROM incidents i WHERE {OPEN_INCIDENT}""")], unit="short", overrides=sev_overrides,
          description="Incidents not resolved or closed, by severity.")
    b.add("stat", "Open Incidents past SLA", (8, 31, 4, 7), [sql("A", f"""
SELECT count(*) AS "breached" FROM incidents i
WHERE {OPEN_INCIDENT} AND i.sla_due_at IS NOT NULL AND i.sla_due_at < {NOW_MS}""")],
          th=thresholds(("green", None), ("red", 1)),
          description="Open incidents whose SLA due time has passed.")
    b.add("stat", "Resolved Late in Range", (12, 31, 4, 7), [sql("A", f"""
SELECT count(*) AS "late" FROM incidents i
WHERE i.resolved_at {RANGE} AND i.sla_due_at IS NOT NULL AND i.resolved_at > i.sla_due_at""")],
          th=thresholds(("green", None), ("orange", 1)),
          description="Incidents resolved in the range after their SLA due time.")
    b.add("stat", "Mean Time to Resolve", (16, 31, 8, 7), [sql("A", f"""
SELECT avg((i.resolved_at - i.created_at) / 1000.0) AS "mttr" FROM incidents i
WHERE i.resolved_at {RANGE}""")], unit="s", decimals=0,
          th=thresholds(("green", None), ("orange", 14400), ("red", 86400)),
          description="Mean of resolved_at - created_at over incidents resolved in the range.")
    b.add("table", "SLA Breaches", (0, 38, 12, 8), [sql("A", f"""
SELECT i.id, i.title, i.severity, i.status, COALESCE(i.assigned_to, '') AS assigned_to,
       to_timestamp(i.sla_due_at / 1000.0) AS sla_due_at,
       (COALESCE(i.resolved_at, {NOW_MS}) - i.sla_due_at) / 1000 AS overdue_seconds
FROM incidents i
WHERE i.sla_due_at IS NOT NULL
  AND ((i.resolved_at IS NULL AND {OPEN_INCIDENT} AND i.sla_due_at < {NOW_MS})
       OR (i.resolved_at > i.sla_due_at AND i.resolved_at {RANGE}))
ORDER BY overdue_seconds DESC""")],
          overrides=[column("overdue_seconds", unit="s"), column("sla_due_at", unit="dateTimeAsIso")],
          description="Open incidents past their SLA, and incidents resolved late in the range.")
    b.add("table", "Time to Resolve by Severity", (12, 38, 12, 8), [sql("A", f"""
SELECT i.severity, count(*) AS resolved, avg((i.resolved_at - i.created_at) / 1000.0) AS mttr_seconds,
       max((i.resolved_at - i.created_at) / 1000.0) AS max_seconds
FROM incidents i WHERE i.resolved_at {RANGE}
GROUP BY i.severity
ORDER BY array_position(ARRAY['critical', 'high', 'medium', 'low', 'info'], i.severity)""")],
          overrides=[column("mttr_seconds", unit="s"), column("max_seconds", unit="s")],
          description="Incidents resolved in the range, by severity.")
    b.add("timeseries", "Incidents Opened", (0, 46, 12, 7), [sql("A", f"""
SELECT $__unixEpochGroupAlias(created_at/1000,$__interval), severity AS metric, count(*) AS "incidents"
FROM incidents WHERE created_at {RANGE}
GROUP BY 1, 2 ORDER BY 1""", fmt="time_series")], unit="short", custom={"drawStyle": "bars", "fillOpacity": 60},
          description="Incidents opened per interval, by severity.")
    b.add("table", "Notification Deliveries", (12, 46, 12, 7), [sql("A", f"""
SELECT channel, status, count(*) AS deliveries, max(attempts) AS max_attempts,
       to_timestamp(max(updated_at) / 1000.0) AS last_update
FROM notify_deliveries WHERE created_at {RANGE}
GROUP BY channel, status ORDER BY channel, status""")], overrides=[column("last_update", unit="dateTimeAsIso")],
          description="Notification deliveries created in the range, by channel and status.")

    templating = [query_var("environment", "Environment", "SELECT DISTINCT environment FROM assets ORDER BY 1")]
    return dashboard("secplat-findings-jobs-incidents", "SecPlat - Findings, Jobs and Incidents", b,
                     ["secplat", "findings", "incidents"], templating, time_from="now-7d", refresh="5m",
                     description="Findings, scan jobs and incidents from the SecPlat PostgreSQL store.")


J = 'job="secplat"'
RI = "$__rate_interval"


def operations_dashboard():
    b = Board()
    b.row("HTTP API", 0)
    b.add("timeseries", "HTTP Request Rate by Route", (0, 1, 12, 8), [prom(
        "A", f'sum by (route) (rate(secplat_http_requests_total{{{J}}}[{RI}]))', "{{route}}")], unit="reqps")
    b.add("timeseries", "HTTP p99 Latency by Route", (12, 1, 12, 8), [prom(
        "A", f'histogram_quantile(0.99, sum by (route, le) (rate(secplat_http_request_duration_seconds_bucket{{{J}}}[{RI}])))',
        "{{route}}")], unit="s", th=thresholds(("green", None), ("orange", 0.5), ("red", 1)),
          custom={"thresholdsStyle": {"mode": "line"}})
    b.add("timeseries", "HTTP 5xx Ratio", (0, 9, 8, 7), [prom(
        "A", f'sum(rate(secplat_http_requests_total{{{J},status=~"5.."}}[{RI}])) / '
             f'sum(rate(secplat_http_requests_total{{{J}}}[{RI}]))', "5xx ratio")],
          unit="percentunit", th=thresholds(("green", None), ("orange", 0.01), ("red", 0.05)),
          custom={"thresholdsStyle": {"mode": "line"}})
    b.add("timeseries", "HTTP 5xx Rate by Route", (8, 9, 8, 7), [prom(
        "A", f'sum by (route, status) (rate(secplat_http_requests_total{{{J},status=~"5.."}}[{RI}]))',
        "{{route}} {{status}}")], unit="reqps")
    b.add("timeseries", "Open HTTP Connections", (16, 9, 8, 7), [prom(
        "A", f'sum by (instance) (secplat_http_connections_open{{{J}}})', "{{instance}}")], unit="short")

    b.row("Queue", 16)
    b.add("timeseries", "Queue Length by Stream", (0, 17, 8, 8), [prom(
        "A", f'max by (stream) (secplat_queue_length{{{J}}})', "{{stream}}")], unit="short")
    b.add("timeseries", "Consumer Lag and Pending", (8, 17, 8, 8), [
        prom("A", f'max by (stream, group) (secplat_queue_lag{{{J}}})', "lag {{stream}}/{{group}}"),
        prom("B", f'max by (stream, group) (secplat_queue_pending{{{J}}})', "pending {{stream}}/{{group}}")],
          unit="short", th=thresholds(("green", None), ("red", 1000)), custom={"thresholdsStyle": {"mode": "line"}})
    b.add("timeseries", "Dead-letter Queue Length", (16, 17, 8, 8), [prom(
        "A", f'max by (stream) (secplat_queue_dlq_length{{{J}}})', "{{stream}}")], unit="short",
          th=thresholds(("green", None), ("red", 1)), custom={"thresholdsStyle": {"mode": "line"}})
    b.add("timeseries", "Oldest Pending Message Idle", (0, 25, 12, 7), [prom(
        "A", f'max by (stream, group) (secplat_queue_oldest_pending_idle_seconds{{{J}}})', "{{stream}}/{{group}}")],
          unit="s", th=thresholds(("green", None), ("red", 300)), custom={"thresholdsStyle": {"mode": "line"}})
    b.add("table", "Running Versions", (12, 25, 12, 7), [prom(
        "A", f'sum by (instance, role, version) (secplat_build_info{{{J}}})', instant=True, fmt="table")],
          options={**default_options("table")})

    b.row("Jobs, probes and derivation", 32)
    b.add("timeseries", "Job Duration p95 by Type", (0, 33, 12, 8), [prom(
        "A", f'histogram_quantile(0.95, sum by (type, le) (rate(secplat_job_duration_seconds_bucket{{{J}}}[{RI}])))',
        "{{type}}")], unit="s")
    b.add("timeseries", "Job Completions by Type and Outcome", (12, 33, 12, 8), [prom(
        "A", f'sum by (type, outcome) (rate(secplat_job_duration_seconds_bucket{{{J},le="+Inf"}}[{RI}]))',
        "{{type}} {{outcome}}")], unit="ops")
    b.add("timeseries", "Probe Latency by Asset", (0, 41, 8, 8), [prom(
        "A", f'max by (asset) (secplat_probe_latency_seconds{{{J}}})', "{{asset}}")], unit="s")
    b.add("timeseries", "Probe Duration p95", (8, 41, 8, 8), [prom(
        "A", f'histogram_quantile(0.95, sum by (le) (rate(secplat_probe_duration_seconds_bucket{{{J}}}[{RI}])))',
        "p95")], unit="s")
    b.add("timeseries", "Probe Failures by Asset and Reason", (16, 41, 8, 8), [prom(
        "A", f'sum by (asset, reason) (rate(secplat_probe_failures_total{{{J}}}[{RI}]))', "{{asset}} {{reason}}")],
          unit="ops")
    b.add("timeseries", "Probes by Asset and Result", (0, 49, 8, 8), [prom(
        "A", f'sum by (asset, result) (rate(secplat_probes_total{{{J}}}[{RI}]))', "{{asset}} {{result}}")], unit="ops")
    b.add("timeseries", "Derive Lag p50 / p99", (8, 49, 8, 8), [
        prom("A", f'histogram_quantile(0.5, sum by (le) (rate(secplat_derive_lag_seconds_bucket{{{J}}}[{RI}])))', "p50"),
        prom("B", f'histogram_quantile(0.99, sum by (le) (rate(secplat_derive_lag_seconds_bucket{{{J}}}[{RI}])))', "p99")],
          unit="s", th=thresholds(("green", None), ("red", 120)), custom={"thresholdsStyle": {"mode": "line"}})
    b.add("timeseries", "Derived Events Rate", (16, 49, 8, 8), [prom(
        "A", f'sum(rate(secplat_derive_events_total{{{J}}}[{RI}]))', "events/s")], unit="ops")

    b.row("Notifications and scanners", 57)
    b.add("timeseries", "Notification Deliveries by Channel and Outcome", (0, 58, 12, 8), [prom(
        "A", f'sum by (channel, outcome) (rate(secplat_notify_deliveries_total{{{J}}}[{RI}]))',
        "{{channel}} {{outcome}}")], unit="ops")
    b.add("timeseries", "Scans by Status", (12, 58, 12, 8), [prom(
        "A", f'sum by (status) (rate(secplat_scans_total{{{J}}}[{RI}]))', "{{status}}")], unit="ops")
    b.add("timeseries", "Scanner Throughput (bytes)", (0, 66, 8, 8), [prom(
        "A", f'sum by (scanner) (rate(secplat_scanner_bytes_total{{{J}}}[{RI}]))', "{{scanner}}")], unit="Bps")
    b.add("timeseries", "Scanner Throughput (files)", (8, 66, 8, 8), [prom(
        "A", f'sum by (scanner) (rate(secplat_scanner_files_total{{{J}}}[{RI}]))', "{{scanner}}")], unit="ops")
    b.add("timeseries", "Scanner Duration p95", (16, 66, 8, 8), [prom(
        "A", f'histogram_quantile(0.95, sum by (scanner, le) (rate(secplat_scanner_duration_seconds_bucket{{{J}}}[{RI}])))',
        "{{scanner}}")], unit="s")
    b.add("stat", "Scrape Targets Up", (0, 74, 24, 4), [prom(
        "A", f'up{{{J}}}', "{{instance}}", instant=True)],
          mappings=[{"type": "value", "options": {"1": {"text": "UP", "color": "green", "index": 0},
                                                  "0": {"text": "DOWN", "color": "red", "index": 1}}}],
          th=thresholds(("red", None), ("green", 1)))
    return dashboard("secplat-operations", "SecPlat - Operations", b, ["secplat", "operations"], time_from="now-3h",
                     refresh="30s", description="SecPlat processes as Prometheus sees them (scrape job secplat).")


def build():
    return {"secplat-asset-posture.json": posture_dashboard(),
            "secplat-findings-jobs-incidents.json": findings_dashboard(),
            "secplat-operations.json": operations_dashboard()}


def render(board):
    return json.dumps(board, indent=2, sort_keys=False) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, board in build().items():
        path = os.path.join(OUT, name)
        text = render(board)
        if check:
            with open(path) as f:
                if f.read() != text:
                    stale.append(name)
        else:
            os.makedirs(OUT, exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    if stale:
        print("out of date (run deploy/grafana/build_dashboards.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
