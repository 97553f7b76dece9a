// Assets: the whole posture list is loaded page by page from GET /posture and kept in memory;
// filter, sort, search and CSV export run on it, and only one page of rows is in the DOM, so
// 5,000 assets stay fast. Refreshed every 5 s.
import * as api from "../api.js";
import { h, replace, fmt, fmtAgo, postureBadge, field, select, saveBlob, toCsv, emptyRow } from "../dom.js";

const PAGE_SIZE = 100;
const FETCH_PAGE = 1000;

const COLUMNS = [
  ["asset_key", "Asset"],
  ["name", "Name"],
  ["status", "Posture"],
  ["health_status", "Status"],
  ["posture_score", "Score"],
  ["criticality", "Criticality"],
  ["environment", "Environment"],
  ["owner", "Owner"],
  ["last_seen", "Last seen"],
];
const POSTURE_ORDER = { red: 0, amber: 1, green: 2 };
const CRIT_ORDER = { critical: 0, high: 1, medium: 2, low: 3 };

export async function loadAllPosture() {
  const first = await api.json("GET", `/posture?limit=${FETCH_PAGE}&offset=0`);
  let items = first.items || [];
  const total = first.total ?? items.length;
  if (items.length < total) {
    const offsets = [];
    for (let o = FETCH_PAGE; o < total; o += FETCH_PAGE) offsets.push(o);
    const pages = await Promise.all(offsets.map((o) => api.json("GET", `/posture?limit=${FETCH_PAGE}&offset=${o}`)));
    for (const p of pages) items = items.concat(p.items || []);
  }
  return items;
}

export async function render(ctx) {
  const { main } = ctx;
  const state = { items: [], view: [], sort: "status", dir: 1, page: 0, q: "", posture: "", status: "", env: "", crit: "" };

  const search = h("input", { type: "search", placeholder: "key, name, owner…", autocomplete: "off" });
  const postureSel = select([["", "All"], "green", "amber", "red"], "");
  const statusSel = select([["", "All"], "up", "stale", "unknown", "down"], "");
  const envSel = select([["", "All"]], "");
  const critSel = select([["", "All"], "critical", "high", "medium", "low"], "");
  const exportBtn = h("button", { type: "button", class: "secondary", text: "Export CSV" });
  const summary = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const err = h("div");
  const thead = h("thead");
  const tbody = h("tbody");
  const table = h("table", { class: "data" }, h("caption", { text: "Assets" }), thead, tbody);
  const prev = h("button", { type: "button", class: "secondary", text: "Previous page" });
  const next = h("button", { type: "button", class: "secondary", text: "Next page" });
  const pageInfo = h("span", { class: "muted" });

  replace(
    main,
    h("h1", { text: "Assets" }),
    err,
    h(
      "div",
      { class: "toolbar", role: "search" },
      field("Search", search),
      field("Posture", postureSel),
      field("Status", statusSel),
      field("Environment", envSel),
      field("Criticality", critSel),
      h("div", { class: "field actions" }, exportBtn),
    ),
    summary,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "pager" }, prev, pageInfo, next),
  );

  function renderHead() {
    replace(
      thead,
      h(
        "tr",
        null,
        COLUMNS.map(([key, label]) =>
          h(
            "th",
            { scope: "col", "aria-sort": state.sort === key ? (state.dir > 0 ? "ascending" : "descending") : null },
            h("button", {
              type: "button",
              class: "sort",
              text: label + (state.sort === key ? (state.dir > 0 ? " ▲" : " ▼") : ""),
              "aria-label": `Sort by ${label}`,
              onclick: () => {
                if (state.sort === key) state.dir = -state.dir;
                else {
                  state.sort = key;
                  state.dir = 1;
                }
                state.page = 0;
                renderHead();
                recompute();
              },
            }),
          ),
        ),
      ),
    );
  }

  function cmp(a, b) {
    const k = state.sort;
    let x = a[k];
    let y = b[k];
    if (k === "status") {
      x = POSTURE_ORDER[x] ?? 3;
      y = POSTURE_ORDER[y] ?? 3;
    } else if (k === "criticality") {
      x = CRIT_ORDER[x] ?? 4;
      y = CRIT_ORDER[y] ?? 4;
    }
    if (x === y) return a.asset_key < b.asset_key ? -1 : a.asset_key > b.asset_key ? 1 : 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * state.dir;
  }

  function recompute() {
    const q = state.q.toLowerCase();
    state.view = state.items.filter(
      (a) =>
        (!state.posture || a.status === state.posture) &&
        (!state.status || a.health_status === state.status) &&
        (!state.env || a.environment === state.env) &&
        (!state.crit || a.criticality === state.crit) &&
        (!q || [a.asset_key, a.name, a.owner, a.environment, a.reason].some((v) => v && String(v).toLowerCase().includes(q))),
    );
    state.view.sort(cmp);
    const pages = Math.max(1, Math.ceil(state.view.length / PAGE_SIZE));
    if (state.page >= pages) state.page = pages - 1;
    renderRows();
  }

  const rowCache = new Map(); // asset_key → {tr, sig}
  function rowFor(a) {
    const sig = [a.name, a.status, a.health_status, a.posture_score, a.criticality, a.environment, a.owner, a.last_seen, a.flapping].join("\u0001");
    const cached = rowCache.get(a.asset_key);
    if (cached && cached.sig === sig) return cached.tr;
    const tr = h(
      "tr",
      { "data-asset-key": a.asset_key },
      h("th", { scope: "row" }, h("a", { href: `#/assets/${encodeURIComponent(a.asset_key)}`, text: a.asset_key })),
      h("td", { text: fmt(a.name) }),
      h("td", null, postureBadge(a.status), a.flapping ? h("span", { class: "badge neutral", text: "flapping" }) : null),
      h("td", null, h("span", { "data-testid": "status", class: `status status-${a.health_status}`, text: a.health_status || "unknown" })),
      h("td", { class: "num", text: fmt(a.posture_score) }),
      h("td", { text: fmt(a.criticality) }),
      h("td", { text: fmt(a.environment) }),
      h("td", { text: a.owner || "Unassigned" }),
      h("td", { text: a.last_seen ? fmtAgo(a.last_seen) : "never", title: a.last_seen || "" }),
    );
    rowCache.set(a.asset_key, { tr, sig });
    return tr;
  }

  function renderRows() {
    const start = state.page * PAGE_SIZE;
    const slice = state.view.slice(start, start + PAGE_SIZE);
    const rows = slice.map(rowFor);
    // Replace only what changed, so focus and scroll survive a refresh.
    const current = Array.from(tbody.children);
    const same = current.length === rows.length && current.every((tr, i) => tr === rows[i]);
    if (!same) replace(tbody, rows.length ? rows : emptyRow(COLUMNS.length, state.items.length ? "No asset matches the filters." : "No assets yet."));
    const pages = Math.max(1, Math.ceil(state.view.length / PAGE_SIZE));
    pageInfo.textContent = `Page ${state.page + 1} of ${pages}`;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    const counts = { green: 0, amber: 0, red: 0 };
    for (const a of state.view) if (a.status in counts) counts[a.status]++;
    summary.textContent = `${state.view.length} of ${state.items.length} assets shown (${counts.green} green, ${counts.amber} amber, ${counts.red} red)` + (state.view.length ? `; rows ${start + 1}–${start + slice.length}` : "");
  }

  function updateEnvOptions() {
    const envs = [...new Set(state.items.map((a) => a.environment).filter(Boolean))].sort();
    const have = Array.from(envSel.options).slice(1).map((o) => o.value);
    if (have.join() === envs.join()) return;
    const cur = envSel.value;
    replace(envSel, h("option", { value: "", text: "All" }), envs.map((e) => h("option", { value: e, text: e })));
    envSel.value = envs.includes(cur) ? cur : "";
  }

  async function load() {
    const items = await loadAllPosture();
    if (!ctx.alive()) return;
    state.items = items;
    const keys = new Set(items.map((a) => a.asset_key));
    for (const k of rowCache.keys()) if (!keys.has(k)) rowCache.delete(k);
    replace(err);
    updateEnvOptions();
    recompute();
  }

  let debounce = null;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.q = search.value.trim();
      state.page = 0;
      recompute();
    }, 120);
  });
  const onSel = (sel, key) =>
    sel.addEventListener("change", () => {
      state[key] = sel.value;
      state.page = 0;
      recompute();
    });
  onSel(postureSel, "posture");
  onSel(statusSel, "status");
  onSel(envSel, "env");
  onSel(critSel, "crit");
  prev.addEventListener("click", () => {
    state.page = Math.max(0, state.page - 1);
    renderRows();
  });
  next.addEventListener("click", () => {
    state.page += 1;
    renderRows();
  });
  exportBtn.addEventListener("click", () => {
    const header = ["asset_key", "name", "posture", "status", "posture_score", "criticality", "environment", "owner", "reason", "last_seen"];
    const rows = state.view.map((a) => [a.asset_key, a.name, a.status, a.health_status, a.posture_score, a.criticality, a.environment, a.owner, a.reason, a.last_seen]);
    saveBlob(new Blob([toCsv(header, rows)], { type: "text/csv" }), "secplat-assets.csv");
  });

  renderHead();
  summary.textContent = "Loading…";
  try {
    await load();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.message }));
  }
  ctx.every(5000, load);
}
