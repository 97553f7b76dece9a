// Incidents: filters, counts, create, list.
import * as api from "../api.js";
import { h, replace, fmt, fmtTime, field, select, emptyRow } from "../dom.js";

export const INCIDENT_STATUSES = ["new", "triaged", "contained", "resolved", "closed"];
export const SEVERITIES = ["critical", "high", "medium", "low", "info"];

export function severityBadge(s) {
  const kind = s === "critical" || s === "high" ? "bad" : s === "medium" ? "info" : "neutral";
  return h("span", { class: `badge ${kind}`, text: fmt(s) });
}

export async function render(ctx) {
  const { main, canMutate } = ctx;
  const err = h("div");
  const msg = h("div", { "aria-live": "polite" });
  const statusF = select([["", "All"], ...INCIDENT_STATUSES], "");
  const sevF = select([["", "All"], ...SEVERITIES], "");
  const assigneeF = h("input", { type: "text", autocomplete: "off" });
  const summary = h("p", { class: "muted", role: "status" });
  const tbody = h("tbody");
  const state = { page: 0 };
  const PAGE = 50;
  const prev = h("button", { type: "button", class: "secondary", text: "Previous page" });
  const next = h("button", { type: "button", class: "secondary", text: "Next page" });
  const pageInfo = h("span", { class: "muted" });

  let form = null;
  if (canMutate) {
    const title = h("input", { type: "text", required: true, autocomplete: "off" });
    const sev = select(SEVERITIES, "medium");
    const keys = h("input", { type: "text", autocomplete: "off", placeholder: "web-1, db-2" });
    const submit = h("button", { type: "submit", text: "Create incident" });
    form = h("form", { "aria-label": "New incident", class: "card toolbar" }, field("Title", title), field("Severity", sev), field("Asset keys", keys, "Comma-separated."), h("div", { class: "field actions" }, submit));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      submit.disabled = true;
      try {
        const body = { title: title.value.trim(), severity: sev.value };
        const ks = keys.value.split(",").map((s) => s.trim()).filter(Boolean);
        if (ks.length) body.asset_keys = ks;
        const r = await api.post("/incidents", body);
        location.hash = `#/incidents/${r.id}`;
      } catch (ex) {
        replace(msg, h("p", { class: "error", role: "alert", text: ex.message }));
      } finally {
        submit.disabled = false;
      }
    });
  }

  async function load() {
    const p = await api.get(`/incidents${api.qs({ status: statusF.value, severity: sevF.value, assigned_to: assigneeF.value.trim(), limit: PAGE, offset: state.page * PAGE })}`);
    if (!ctx.alive()) return;
    replace(err);
    const items = p.items || [];
    replace(
      tbody,
      items.length
        ? items.map((i) =>
            h(
              "tr",
              { "data-incident-id": String(i.id) },
              h("th", { scope: "row" }, h("a", { href: `#/incidents/${i.id}`, text: `#${i.id} ${i.title}` })),
              h("td", null, severityBadge(i.severity)),
              h("td", { text: i.status }),
              h("td", { text: fmt(i.assigned_to) }),
              h("td", { class: "num", text: fmt(i.alert_count) }),
              h("td", { text: fmtTime(i.sla_due_at) || "—" }),
              h("td", { text: fmtTime(i.created_at) }),
            ),
          )
        : emptyRow(7, "No incidents."),
    );
    const total = p.total ?? items.length;
    const active = items.filter((i) => ["new", "triaged", "contained"].includes(i.status)).length;
    summary.textContent = `${total} incidents; on this page ${active} active, ${items.filter((i) => i.severity === "high" || i.severity === "critical").length} high or critical`;
    const pages = Math.max(1, Math.ceil(total / PAGE));
    pageInfo.textContent = `Page ${state.page + 1} of ${pages}`;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }
  const reload = () => {
    state.page = 0;
    load().catch((e) => replace(err, h("p", { class: "error", role: "alert", text: e.message })));
  };
  statusF.addEventListener("change", reload);
  sevF.addEventListener("change", reload);
  let t = null;
  assigneeF.addEventListener("input", () => {
    clearTimeout(t);
    t = setTimeout(reload, 250);
  });
  prev.addEventListener("click", () => ((state.page = Math.max(0, state.page - 1)), load().catch(() => {})));
  next.addEventListener("click", () => ((state.page += 1), load().catch(() => {})));

  replace(
    main,
    h("h1", { text: "Incidents" }),
    err,
    form,
    msg,
    h("div", { class: "toolbar", role: "search" }, field("Filter status", statusF), field("Filter severity", sevF), field("Filter assignee", assigneeF)),
    summary,
    h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { text: "Incidents" }), h("thead", null, h("tr", null, ["Incident", "Severity", "Status", "Assignee", "Alerts", "SLA due", "Created"].map((x) => h("th", { scope: "col", text: x })))), tbody)),
    h("div", { class: "pager" }, prev, pageInfo, next),
  );
  try {
    await load();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.message }));
  }
  ctx.every(5000, load);
}
