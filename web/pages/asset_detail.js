import * as api from "../api.js";
import { h, replace, fmt, fmtTime, fmtAgo, postureBadge, select, field, emptyRow } from "../dom.js";
import { timeChart, toEpoch } from "../charts.js";

export async function render(ctx) {
  const { main } = ctx;
  const key = ctx.params[0];
  const title = h("h1", { text: key });
  const err = h("div");
  const stateBox = h("dl", { class: "kv" });
  const updated = h("p", { class: "muted", role: "status" });
  const recs = h("ul");
  const completeness = h("dl", { class: "kv" });
  const chart = h("div", { class: "chart", role: "img", "aria-label": "Latency and status over time" });
  const chartNote = h("p", { class: "muted" });
  const timelineBody = h("tbody");
  const evidence = h("pre", { class: "evidence", tabindex: "0" });
  const findingsBody = h("tbody");
  const hoursSel = select([["1", "1 h"], ["6", "6 h"], ["24", "24 h"], ["72", "72 h"], ["168", "7 d"]], "24");
  const copyBtn = h("button", { type: "button", class: "secondary", text: "Copy evidence" });

  replace(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "#/assets", text: "Assets" }), " / ", key),
    title,
    err,
    h(
      "div",
      { class: "grid2" },
      h("section", { class: "card", "aria-labelledby": "state-h" }, h("h2", { id: "state-h", text: "State" }), stateBox, updated),
      h("section", { class: "card", "aria-labelledby": "rec-h" }, h("h2", { id: "rec-h", text: "Recommendations" }), recs, h("h3", { text: "Data completeness" }), completeness),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "tl-h" },
      h("div", { class: "card-head" }, h("h2", { id: "tl-h", text: "Latency and status" }), field("Window", hoursSel)),
      chart,
      chartNote,
      h(
        "details",
        null,
        h("summary", { text: "Timeline table" }),
        h(
          "div",
          { class: "table-wrap" },
          h("table", { class: "data" }, h("caption", { text: "Health checks, newest first" }), h("thead", null, h("tr", null, ["Time", "Status", "Code", "Latency (ms)", "Error"].map((t) => h("th", { scope: "col", text: t })))), timelineBody),
        ),
      ),
    ),
    h("section", { class: "card", "aria-labelledby": "ev-h" }, h("div", { class: "card-head" }, h("h2", { id: "ev-h", text: "Evidence" }), copyBtn), evidence),
    h(
      "section",
      { class: "card", "aria-labelledby": "fi-h" },
      h("h2", { id: "fi-h", text: "Findings" }),
      h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { text: `Findings of ${key}` }), h("thead", null, h("tr", null, ["Title", "Severity", "Risk", "Status", "Last seen"].map((t) => h("th", { scope: "col", text: t })))), findingsBody)),
      h("p", null, h("a", { href: `#/findings?asset_key=${encodeURIComponent(key)}`, text: "Open in Findings" })),
    ),
  );

  copyBtn.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(evidence.textContent);
      copyBtn.textContent = "Copied";
    } catch {
      copyBtn.textContent = "Copy failed";
    }
    setTimeout(() => (copyBtn.textContent = "Copy evidence"), 1500);
  });

  let plot = null;
  let lastSig = "";
  async function load() {
    const d = await api.get(`/posture/${encodeURIComponent(key)}/detail?hours=${hoursSel.value}&limit=500`);
    if (!ctx.alive()) return;
    const sig = JSON.stringify(d);
    if (sig === lastSig) return;
    lastSig = sig;
    const s = d.state || {};
    title.textContent = s.name || key;
    const rows = [
      ["Posture", postureBadge(s.status)],
      ["Status", h("span", { class: `status status-${s.health_status}`, text: fmt(s.health_status) })],
      ["Reason", fmt(d.reason_display || s.reason)],
      ["Score", fmt(s.posture_score)],
      ["Confidence", s.confidence === undefined ? "—" : `${Math.round(s.confidence * 100)}% (${fmt(s.confidence_reason)})`],
      ["Flapping", s.flapping ? "yes" : "no"],
      ["Criticality", fmt(s.criticality)],
      ["Environment", fmt(s.environment)],
      ["Owner", s.owner || "Unassigned"],
      ["Last seen", s.last_seen ? `${fmtTime(s.last_seen)} (${fmtAgo(s.last_seen)})` : "never"],
      ["Last status change", fmtTime(s.last_status_change) || "—"],
      ["Latency", s.latency_ms === null || s.latency_ms === undefined ? "—" : `${s.latency_ms} ms (SLO ${d.latency_slo_ms} ms: ${d.latency_slo_ok ? "met" : "breached"})`],
      ["Error rate", d.error_rate_24h === undefined ? "—" : `${d.error_rate_24h}%`],
      ["Expected interval", d.expected_interval_sec ? `${d.expected_interval_sec} s` : "—"],
    ];
    replace(stateBox, rows.map(([k, v]) => [h("dt", { text: k }), h("dd", null, v)]));
    updated.textContent = `Derived ${fmtAgo(s.derived_at)}`;
    replace(recs, (d.recommendations || []).map((r) => h("li", { text: r })));
    const c = d.data_completeness || {};
    replace(
      completeness,
      h("dt", { text: "Last 24 h" }),
      h("dd", { text: `${fmt(c.label_24h)} (${fmt(c.pct_24h)}%)` }),
      h("dt", { text: "Last 1 h" }),
      h("dd", { text: `${fmt(c.label_1h)} (${fmt(c.pct_1h)}%)` }),
    );
    const tl = (d.timeline || []).slice().reverse(); // oldest first for the chart
    const xs = tl.map((e) => toEpoch(e["@timestamp"]));
    const lat = tl.map((e) => e.latency_ms);
    const up = tl.map((e) => (e.status === "up" ? 1 : 0));
    chartNote.textContent = tl.length
      ? `${tl.length} checks; ${up.filter((v) => v === 0).length} not up; latest latency ${fmt(lat[lat.length - 1])} ms.`
      : "No health checks in this window (assets without a probe URL have none).";
    if (plot) plot.setData([xs, lat, up]);
    else
      plot = timeChart(
        chart,
        xs,
        [
          { label: "Latency (ms)", values: lat, stroke: "#1d4ed8", axisLabel: "ms" },
          { label: "Up (1) / not up (0)", values: up, stroke: "#15803d", scale: "up", range: [0, 1.05], step: true, axisLabel: "up" },
        ],
        { height: 220 },
        ctx.onCleanup,
      );
    replace(
      timelineBody,
      (d.timeline || []).slice(0, 200).map((e) => {
        const bad = (e.code && (e.code < 200 || e.code >= 400)) || e.status !== "up" || e.latency_ms > (d.latency_slo_ms || 200);
        return h(
          "tr",
          { class: bad ? "warn" : null },
          h("td", { text: fmtTime(e["@timestamp"]) }),
          h("td", { text: fmt(e.status) }),
          h("td", { text: fmt(e.code) }),
          h("td", { class: "num", text: fmt(e.latency_ms) }),
          h("td", { text: fmt(e.error || e.error_class) }),
        );
      }),
    );
    evidence.textContent = d.evidence ? JSON.stringify(d.evidence, null, 2) : "No evidence yet.";
  }

  async function loadFindings() {
    const p = await api.page(`/findings/?asset_key=${encodeURIComponent(key)}&limit=50`);
    if (!ctx.alive()) return;
    replace(
      findingsBody,
      p.items.length
        ? p.items.map((f) => h("tr", null, h("td", { text: f.title }), h("td", { text: fmt(f.severity) }), h("td", { text: `${fmt(f.risk_score)} ${f.risk_level || ""}` }), h("td", { text: fmt(f.status) }), h("td", { text: fmtTime(f.last_seen) })))
        : emptyRow(5, "No findings for this asset."),
    );
  }

  hoursSel.addEventListener("change", () => load().catch((e) => replace(err, h("p", { class: "error", role: "alert", text: e.message }))));
  try {
    await Promise.all([load(), loadFindings()]);
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.status === 404 ? `Asset ${key} not found.` : e.message }));
  }
  ctx.every(5000, async () => {
    await load();
    await loadFindings();
  });
}
