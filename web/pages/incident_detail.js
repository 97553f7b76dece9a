// One incident: status moves, linked assets, timeline, notes, Jira.
import * as api from "../api.js";
import { h, replace, fmt, fmtTime, field } from "../dom.js";
import { severityBadge } from "./incidents.js";

// The moves the API allows from each status (incidents/incident_service.cpp transition_allowed).
const MOVES = {
  new: ["triaged", "contained", "resolved", "closed"],
  triaged: ["contained", "resolved", "closed"],
  contained: ["triaged", "resolved", "closed"],
  resolved: ["closed", "new", "triaged"],
  closed: ["triaged"],
};
const LABEL = { new: "Reopen as new", triaged: "Triage", contained: "Contain", resolved: "Resolve", closed: "Close" };

export async function render(ctx) {
  const { main, canMutate } = ctx;
  const id = ctx.params[0];
  const err = h("div");
  const msg = h("div", { "aria-live": "polite" });
  const facts = h("dl", { class: "kv" });
  const moves = h("div", { class: "actions" });
  const alertsList = h("ul");
  const timeline = h("ol", { class: "timeline" });
  const jira = h("div");

  const act = async (fn, ok) => {
    try {
      const r = await fn();
      replace(msg, h("p", { class: "ok", role: "status", text: typeof ok === "function" ? ok(r) : ok }));
      await load();
    } catch (ex) {
      replace(msg, h("p", { class: "error", role: "alert", text: ex.message }));
    }
  };

  let noteForm = null;
  let linkForm = null;
  if (canMutate) {
    const note = h("textarea", { rows: "3", required: true });
    noteForm = h("form", { "aria-label": "Add note" }, field("Note", note), h("button", { type: "submit", text: "Add note" }));
    noteForm.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!note.value.trim()) return;
      act(() => api.post(`/incidents/${id}/notes`, { body: note.value.trim() }), "Note added.").then(() => (note.value = ""));
    });
    const assetKey = h("input", { type: "text", autocomplete: "off" });
    linkForm = h("form", { "aria-label": "Link asset", class: "toolbar" }, field("Asset key to link", assetKey), h("div", { class: "field actions" }, h("button", { type: "submit", class: "secondary", text: "Link asset" })));
    linkForm.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!assetKey.value.trim()) return;
      act(() => api.post(`/incidents/${id}/alerts`, { asset_key: assetKey.value.trim() }), "Asset linked.").then(() => (assetKey.value = ""));
    });
  }

  const title = h("h1", { text: `Incident #${id}` });
  const subtitle = h("p", { class: "big" });
  replace(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "#/incidents", text: "Incidents" }), " / ", `#${id}`),
    title,
    subtitle,
    err,
    msg,
    h("div", { class: "grid2" }, h("section", { class: "card", "aria-labelledby": "det-h" }, h("h2", { id: "det-h", text: "Details" }), facts, moves, jira), h("section", { class: "card", "aria-labelledby": "al-h" }, h("h2", { id: "al-h", text: "Linked assets and alerts" }), alertsList, linkForm)),
    h("section", { class: "card", "aria-labelledby": "tl-h" }, h("h2", { id: "tl-h", text: "Timeline" }), noteForm, timeline),
  );

  async function load() {
    const inc = await api.get(`/incidents/${id}`);
    if (!ctx.alive()) return;
    replace(err);
    replace(subtitle, inc.title, " ", severityBadge(inc.severity), h("span", { class: "badge neutral", text: inc.status }));
    replace(
      facts,
      [
        ["Status", inc.status],
        ["Severity", inc.severity],
        ["Assignee", fmt(inc.assigned_to)],
        ["Incident key", fmt(inc.incident_key)],
        ["SLA due", fmtTime(inc.sla_due_at) || "—"],
        ["Created", fmtTime(inc.created_at)],
        ["Updated", fmtTime(inc.updated_at)],
        ["Resolved", fmtTime(inc.resolved_at) || "—"],
        ["Closed", fmtTime(inc.closed_at) || "—"],
      ].map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]),
    );
    replace(
      moves,
      canMutate
        ? (MOVES[inc.status] || []).map((to) =>
            h("button", { type: "button", class: to === "closed" ? "secondary" : "", text: LABEL[to] || to, "aria-label": `Move to ${to}`, onclick: () => act(() => api.patch(`/incidents/${id}/status`, { status: to }), `Incident is now ${to}.`) }),
          )
        : null,
    );
    const meta = inc.metadata || {};
    replace(
      jira,
      meta.jira_issue_key
        ? h("p", null, "Jira: ", h("a", { href: meta.jira_issue_url || "#", rel: "noopener noreferrer", target: "_blank", text: meta.jira_issue_key }))
        : canMutate
          ? h("button", { type: "button", class: "secondary", text: "Create Jira issue", onclick: () => act(() => api.post(`/incidents/${id}/jira`, {}), (r) => `Jira issue ${r.issue_key || ""} created.`) })
          : null,
    );
    const alerts = inc.alerts || [];
    replace(
      alertsList,
      alerts.length
        ? alerts.map((a) =>
            h(
              "li",
              null,
              h("a", { href: `#/assets/${encodeURIComponent(a.asset_key)}`, text: a.asset_key }),
              a.alert_id ? ` (alert ${a.alert_id})` : "",
              ` added ${fmtTime(a.added_at)}`,
              canMutate ? [" ", h("button", { type: "button", class: "secondary small", text: "Unlink", "aria-label": `Unlink ${a.asset_key}`, onclick: () => act(() => api.del(`/incidents/${id}/alerts?asset_key=${encodeURIComponent(a.asset_key)}`), "Unlinked.") })] : null,
            ),
          )
        : h("li", { class: "muted", text: "Nothing linked." }),
    );
    const items = inc.timeline || [];
    replace(
      timeline,
      items.length
        ? items.map((e) =>
            h("li", null, h("div", { class: "meta", text: `${fmtTime(e.created_at)} · ${e.event_type}${e.author ? " · " + e.author : ""}${e.source_type ? " · " + e.source_type : ""}` }), e.body ? h("div", { text: e.body }) : null),
          )
        : h("li", { class: "muted", text: "No events yet." }),
    );
  }

  try {
    await load();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.status === 404 ? `Incident #${id} not found.` : e.message }));
    return;
  }
  ctx.every(5000, load);
}
