import * as api from "../api.js";
import { h, replace, fmt, postureBadge } from "../dom.js";
import { timeChart, toEpoch } from "../charts.js";

export async function render(ctx) {
  const { main } = ctx;
  const counts = {};
  const stat = (key, label) => {
    counts[key] = h("span", { class: "stat-value", "data-testid": `count-${key}`, text: "…" });
    return h("div", { class: `stat stat-${key}` }, h("span", { class: "stat-label" }, h("span", { class: `dot posture-${key}`, "aria-hidden": "true" }), ` ${label}`), counts[key]);
  };
  const score = h("span", { class: "stat-value", "data-testid": "posture-score", text: "…" });
  const total = h("span", { class: "stat-value", text: "…" });
  const down = h("ul", { "data-testid": "down-assets", class: "link-list" });
  const flapping = h("ul", { "data-testid": "flapping-assets", class: "link-list" });
  const chart = h("div", { "data-testid": "trend-chart", class: "chart", role: "img", "aria-label": "Posture score trend, last 7 days" });
  const chartNote = h("p", { class: "muted" });
  const rangeSel = h("select", { id: "trend-range" }, ["24h", "7d", "30d"].map((r) => h("option", { value: r, text: r, selected: r === "7d" })));
  const drivers = h("div", { class: "grid2" });
  const err = h("div");

  replace(
    main,
    h("h1", { text: "Overview" }),
    err,
    h(
      "section",
      { class: "stats", "aria-label": "Posture counts" },
      stat("green", "Green"),
      stat("amber", "Amber"),
      stat("red", "Red"),
      h("div", { class: "stat" }, h("span", { class: "stat-label", text: "Posture score" }), score),
      h("div", { class: "stat" }, h("span", { class: "stat-label", text: "Assets" }), total),
    ),
    h(
      "div",
      { class: "grid2" },
      h("section", { class: "card", "aria-labelledby": "down-h" }, h("h2", { id: "down-h", text: "Down assets" }), down),
      h("section", { class: "card", "aria-labelledby": "flap-h" }, h("h2", { id: "flap-h", text: "Flapping assets" }), flapping),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "trend-h" },
      h("div", { class: "card-head" }, h("h2", { id: "trend-h", text: "Posture score trend" }), h("div", { class: "inline-field" }, h("label", { for: "trend-range", text: "Range" }), rangeSel)),
      chart,
      chartNote,
    ),
    drivers,
  );

  const assetList = (ul, keys, empty) => {
    if (!keys.length) return replace(ul, h("li", { class: "muted", text: empty }));
    replace(ul, keys.slice(0, 25).map((k) => h("li", null, h("a", { href: `#/assets/${encodeURIComponent(k)}`, text: k }))));
    if (keys.length > 25) ul.appendChild(h("li", { class: "muted", text: `and ${keys.length - 25} more (see Assets)` }));
  };

  let lastSummary = "";
  async function loadSummary() {
    const s = await api.get("/posture/summary");
    if (!ctx.alive()) return;
    const sig = JSON.stringify(s);
    if (sig === lastSummary) return;
    lastSummary = sig;
    counts.green.textContent = String(s.green);
    counts.amber.textContent = String(s.amber);
    counts.red.textContent = String(s.red);
    score.textContent = s.posture_score_avg === null || s.posture_score_avg === undefined ? "—" : String(s.posture_score_avg);
    total.textContent = String(s.total_assets ?? s.green + s.amber + s.red);
    assetList(down, s.down_assets || [], "No asset is down.");
    assetList(flapping, s.flapping_assets || [], "No asset is flapping.");
  }

  let plot = null;
  let lastTrend = "";
  async function loadTrend() {
    const t = await api.get(`/posture/trend?range=${rangeSel.value}`);
    if (!ctx.alive()) return;
    const pts = t.points || [];
    const sig = JSON.stringify(pts);
    if (sig === lastTrend) return;
    lastTrend = sig;
    const xs = pts.map((p) => toEpoch(p.created_at));
    const ys = pts.map((p) => p.posture_score_avg);
    const reds = pts.map((p) => p.red);
    if (!pts.length) {
      chartNote.textContent = "No report snapshots in this range yet (snapshots are taken by POST /posture/reports/snapshot or on schedule).";
    } else {
      const last = pts[pts.length - 1];
      chartNote.textContent = `${pts.length} snapshots; latest score ${fmt(last.posture_score_avg)}, ${last.red} red.`;
    }
    if (plot) {
      plot.setData([xs, ys, reds]);
      return;
    }
    plot = timeChart(
      chart,
      xs,
      [
        { label: "Score", values: ys, stroke: "#1d4ed8", range: [0, 100], axisLabel: "score" },
        { label: "Red assets", values: reds, stroke: "#b91c1c", scale: "n", axisLabel: "red" },
      ],
      { height: 240 },
      ctx.onCleanup,
    );
  }

  async function loadDrivers() {
    const o = await api.get("/posture/overview");
    if (!ctx.alive()) return;
    const td = o.top_drivers || {};
    const worst = (td.worst_assets || []).map((a) =>
      h("li", null, h("a", { href: `#/assets/${encodeURIComponent(a.asset_id)}`, text: a.name || a.asset_id }), " ", postureBadge(a.status), ` score ${fmt(a.posture_score)}`),
    );
    const reasons = (td.by_reason || []).map((r) => h("li", { text: `${r.reason}: ${r.count}` }));
    replace(
      drivers,
      h("section", { class: "card", "aria-labelledby": "worst-h" }, h("h2", { id: "worst-h", text: "Lowest scores" }), h("ul", { class: "link-list" }, worst.length ? worst : h("li", { class: "muted", text: "No assets." }))),
      h("section", { class: "card", "aria-labelledby": "reason-h" }, h("h2", { id: "reason-h", text: "Top reasons" }), h("ul", null, reasons.length ? reasons : h("li", { class: "muted", text: "Nothing to report." }))),
    );
  }

  rangeSel.addEventListener("change", () => loadTrend().catch(() => {}));
  try {
    await Promise.all([loadSummary(), loadTrend(), loadDrivers()]);
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.message }));
  }
  ctx.every(5000, async () => {
    await loadSummary();
    await loadTrend();
    await loadDrivers();
  });
}
