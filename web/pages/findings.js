// Findings: server-side filters and paging (limit/offset, X-Total-Count), triage in the row.
import * as api from "../api.js";
import { h, replace, fmt, fmtTime, field, select, emptyRow } from "../dom.js";

const PAGE_SIZE = 100;
export const FINDING_STATUSES = ["open", "in_progress", "remediated", "accepted_risk"];

// "2030-01-31" (end of that local day), "2030-01-31T12:00" (local) or a full RFC 3339 time → ISO UTC.
export function parseExpiry(text) {
  const v = text.trim();
  if (!v) return null;
  let d;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) d = new Date(`${v}T23:59:59`);
  else d = new Date(v.replace(" ", "T"));
  return isNaN(d) ? null : d.toISOString();
}

function defaultExpiry() {
  const d = new Date(Date.now() + 30 * 86400 * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export async function render(ctx) {
  const { main, canMutate, query } = ctx;
  const state = { page: 0, total: 0 };
  const statusF = select([["", "All"], ...FINDING_STATUSES], query.get("status") || "");
  const sevF = select([["", "All"], "critical", "high", "medium", "low", "info"], "");
  const riskF = select([["", "All"], "critical", "high", "medium", "low", "unscored"], "");
  const sourceF = h("input", { type: "text", autocomplete: "off" });
  const assetF = h("input", { type: "text", autocomplete: "off", value: query.get("asset_key") || "" });
  const searchF = h("input", { type: "search", autocomplete: "off" });
  const err = h("div");
  const note = h("div", { "aria-live": "polite" });
  const summary = h("p", { class: "muted", role: "status" });
  const tbody = h("tbody");
  const prev = h("button", { type: "button", class: "secondary", text: "Previous page" });
  const next = h("button", { type: "button", class: "secondary", text: "Next page" });
  const pageInfo = h("span", { class: "muted" });

  // The accept-risk dialog, shared by all rows.
  const reason = h("textarea", { rows: "3", required: true, maxlength: "2000" });
  const expires = h("input", { type: "text", required: true, placeholder: "YYYY-MM-DD", autocomplete: "off" });
  const dlgTitle = h("h2", { id: "accept-h", text: "Accept risk" });
  const dlgStatus = h("div");
  const dlgForm = h(
    "form",
    { "aria-labelledby": "accept-h" },
    dlgTitle,
    field("Reason", reason),
    field("Expires", expires, "A date (YYYY-MM-DD, end of that day) or a date and time; must be in the future."),
    dlgStatus,
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Accept risk" }), h("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => dialog.close() })),
  );
  const dialog = h("dialog", { class: "dialog" }, dlgForm);
  let dlgFinding = null;
  let dlgOnClose = null;
  dialog.addEventListener("close", () => {
    if (dlgOnClose) dlgOnClose();
    dlgOnClose = null;
  });

  function openAccept(f, onClose) {
    dlgFinding = f;
    dlgOnClose = onClose || null;
    dlgTitle.textContent = `Accept risk: ${f.title}`;
    reason.value = "";
    expires.value = defaultExpiry();
    replace(dlgStatus);
    dialog.showModal();
    reason.focus();
  }
  dlgForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const iso = parseExpiry(expires.value);
    if (!reason.value.trim()) return replace(dlgStatus, h("p", { class: "error", role: "alert", text: "A reason is required." }));
    if (!iso) return replace(dlgStatus, h("p", { class: "error", role: "alert", text: "Expires must be a date such as 2030-01-31." }));
    try {
      const r = await api.post(`/findings/${dlgFinding.finding_id}/accept-risk`, { reason: reason.value.trim(), expires_at: iso });
      const row = rows.get(String(dlgFinding.finding_id));
      if (row) row.update(Object.assign({}, row.f, { status: r.status || "accepted_risk", accepted_risk_expires_at: r.accepted_risk_expires_at || iso }));
      dlgOnClose = null;
      dialog.close();
      replace(note, h("p", { class: "ok", role: "status", text: `Risk accepted for "${dlgFinding.title}".` }));
    } catch (ex) {
      replace(dlgStatus, h("p", { class: "error", role: "alert", text: ex.message }));
    }
  });

  const rows = new Map(); // finding_id → row

  function makeRow(f) {
    const statusCell = h("span", { "data-testid": "finding-status", class: "status" });
    const expiry = h("small", { class: "muted" });
    const row = { f, tr: null };
    let sel = null;
    let acceptBtn = null;
    if (canMutate) {
      sel = select(FINDING_STATUSES, f.status, { "aria-label": `Status for ${f.title}` });
      sel.addEventListener("change", async () => {
        const to = sel.value;
        if (to === "accepted_risk") {
          openAccept(row.f, () => (sel.value = row.f.status));
          return;
        }
        sel.disabled = true;
        try {
          const r = await api.patch(`/findings/${row.f.finding_id}/status`, { status: to });
          row.update(Object.assign({}, row.f, { status: r.status || to }));
          replace(note, h("p", { class: "ok", role: "status", text: `"${row.f.title}" is now ${r.status || to}.` }));
        } catch (ex) {
          sel.value = row.f.status;
          replace(note, h("p", { class: "error", role: "alert", text: ex.message }));
        } finally {
          sel.disabled = false;
        }
      });
      acceptBtn = h("button", { type: "button", class: "secondary small", text: "Accept risk", onclick: () => openAccept(row.f) });
    }
    const cells = {
      title: h("td"),
      asset: h("td"),
      severity: h("td"),
      risk: h("td", { class: "num" }),
      source: h("td"),
      seen: h("td"),
    };
    row.tr = h(
      "tr",
      { "data-finding-id": String(f.finding_id) },
      cells.title,
      cells.asset,
      cells.severity,
      cells.risk,
      h("td", null, statusCell, " ", expiry),
      cells.source,
      cells.seen,
      canMutate ? h("td", { class: "row-actions" }, sel, acceptBtn) : null,
    );
    row.update = (nf) => {
      row.f = nf;
      replace(cells.title, h("span", { class: "title", text: nf.title }), nf.category ? h("small", { class: "muted", text: ` ${nf.category}` }) : null);
      replace(cells.asset, nf.asset_key ? h("a", { href: `#/assets/${encodeURIComponent(nf.asset_key)}`, text: nf.asset_key }) : "—");
      cells.severity.textContent = fmt(nf.severity);
      cells.risk.textContent = nf.risk_score === null || nf.risk_score === undefined ? "unscored" : `${nf.risk_score} (${nf.risk_level})`;
      cells.source.textContent = fmt(nf.source);
      cells.seen.textContent = fmtTime(nf.last_seen);
      statusCell.textContent = nf.status;
      expiry.textContent = nf.status === "accepted_risk" && nf.accepted_risk_expires_at ? `until ${fmtTime(nf.accepted_risk_expires_at)}` : "";
      if (sel && document.activeElement !== sel && !sel.disabled) sel.value = nf.status;
    };
    row.update(f);
    return row;
  }

  function params() {
    return api.qs({
      status: statusF.value,
      severity: sevF.value,
      risk_level: riskF.value,
      source: sourceF.value.trim(),
      asset_key: assetF.value.trim(),
      q: searchF.value.trim(),
      limit: PAGE_SIZE,
      offset: state.page * PAGE_SIZE,
    });
  }

  async function load() {
    const p = await api.page(`/findings/${params()}`);
    if (!ctx.alive()) return;
    state.total = p.total;
    replace(err);
    const seen = new Set();
    const trs = p.items.map((f) => {
      const id = String(f.finding_id);
      seen.add(id);
      let row = rows.get(id);
      if (row) row.update(f);
      else rows.set(id, (row = makeRow(f)));
      return row.tr;
    });
    for (const id of rows.keys()) if (!seen.has(id)) rows.delete(id);
    const current = Array.from(tbody.children);
    if (!(current.length === trs.length && current.every((tr, i) => tr === trs[i])))
      replace(tbody, trs.length ? trs : emptyRow(canMutate ? 8 : 7, "No findings match."));
    const pages = Math.max(1, Math.ceil(state.total / PAGE_SIZE));
    pageInfo.textContent = `Page ${state.page + 1} of ${pages}`;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    summary.textContent = `${state.total} findings`;
  }

  const reload = () => {
    state.page = 0;
    load().catch((e) => replace(err, h("p", { class: "error", role: "alert", text: e.message })));
  };
  for (const el of [statusF, sevF, riskF]) el.addEventListener("change", reload);
  let t = null;
  for (const el of [sourceF, assetF, searchF])
    el.addEventListener("input", () => {
      clearTimeout(t);
      t = setTimeout(reload, 250);
    });
  prev.addEventListener("click", () => {
    state.page = Math.max(0, state.page - 1);
    load().catch(() => {});
  });
  next.addEventListener("click", () => {
    state.page += 1;
    load().catch(() => {});
  });

  const heads = ["Title", "Asset", "Severity", "Risk", "Status", "Source", "Last seen"];
  if (canMutate) heads.push("Triage");
  replace(
    main,
    h("h1", { text: "Findings" }),
    err,
    h(
      "div",
      { class: "toolbar", role: "search" },
      field("Search", searchF),
      field("Filter status", statusF),
      field("Filter severity", sevF),
      field("Filter risk level", riskF),
      field("Filter source", sourceF),
      field("Filter asset key", assetF),
    ),
    note,
    summary,
    h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { text: "Findings" }), h("thead", null, h("tr", null, heads.map((x) => h("th", { scope: "col", text: x })))), tbody)),
    h("div", { class: "pager" }, prev, pageInfo, next),
    dialog,
  );
  ctx.onCleanup(() => dialog.open && dialog.close());
  try {
    await load();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.message }));
  }
  ctx.every(5000, async () => {
    if (dialog.open) return;
    await load();
  });
}
