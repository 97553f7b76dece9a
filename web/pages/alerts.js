// Alerts: tabs Firing / Acknowledged / Suppressed / Resolved; ack, suppress, resolve, assign.
import * as api from "../api.js";
import { h, replace, fmt, fmtTime, field, postureBadge, localToIso, isoToLocal, emptyRow } from "../dom.js";

const TABS = [
  ["firing", "Firing"],
  ["acked", "Acknowledged"],
  ["suppressed", "Suppressed"],
  ["resolved", "Resolved"],
];

export async function render(ctx) {
  const { main, canMutate } = ctx;
  const err = h("div");
  const msg = h("div", { "aria-live": "polite" });
  let current = ctx.query.get("tab") || "firing";
  let data = {};
  const tabBtns = {};
  const tablist = h("div", { role: "tablist", "aria-label": "Alert states", class: "tabs" });
  const panel = h("div", { role: "tabpanel", id: "alerts-panel", tabindex: "0" });
  for (const [key, label] of TABS) {
    const b = h("button", { type: "button", role: "tab", id: `tab-${key}`, "aria-controls": "alerts-panel", text: label });
    b.addEventListener("click", () => select(key));
    b.addEventListener("keydown", (e) => {
      const i = TABS.findIndex(([k]) => k === key);
      let j = null;
      if (e.key === "ArrowRight") j = (i + 1) % TABS.length;
      if (e.key === "ArrowLeft") j = (i + TABS.length - 1) % TABS.length;
      if (j !== null) {
        e.preventDefault();
        select(TABS[j][0]);
        tabBtns[TABS[j][0]].focus();
      }
    });
    tabBtns[key] = b;
    tablist.appendChild(b);
  }

  // One dialog for the actions that need input.
  const dlgInput = h("input", { type: "text", autocomplete: "off" });
  const dlgField = field("Value", dlgInput);
  const dlgTitle = h("h2", { id: "alert-dlg-h" });
  const dlgStatus = h("div");
  const dlgSubmit = h("button", { type: "submit", text: "Save" });
  const dlgForm = h("form", { "aria-labelledby": "alert-dlg-h" }, dlgTitle, dlgField, dlgStatus, h("div", { class: "actions" }, dlgSubmit, h("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => dialog.close() })));
  const dialog = h("dialog", { class: "dialog" }, dlgForm);
  let dlgAction = null;
  dlgForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await dlgAction(dlgInput.value);
      dialog.close();
    } catch (ex) {
      replace(dlgStatus, h("p", { class: "error", role: "alert", text: ex.message }));
    }
  });
  function ask(title, label, type, value, action) {
    dlgTitle.textContent = title;
    dlgField.querySelector("label").textContent = label;
    dlgInput.type = type;
    dlgInput.value = value;
    replace(dlgStatus);
    dlgAction = action;
    dialog.showModal();
    dlgInput.focus();
  }

  const ref = (a) => (a.alert_id !== undefined && a.alert_id !== null && !a.asset_key ? { alert_id: a.alert_id } : { asset_key: a.asset_key });
  const name = (a) => a.asset_key || `alert ${a.alert_id}`;
  async function act(path, a, extra, done) {
    await api.post(`/alerts/${path}`, Object.assign(ref(a), extra || {}));
    replace(msg, h("p", { class: "ok", role: "status", text: `${name(a)}: ${done}.` }));
    await load();
  }
  const guard = (p) => p.catch((ex) => replace(msg, h("p", { class: "error", role: "alert", text: ex.message })));

  function actions(a) {
    if (!canMutate) return null;
    const n = name(a);
    const b = (text, fn) => h("button", { type: "button", class: "secondary small", text, "aria-label": `${text} ${n}`, onclick: fn });
    const out = [];
    if (current !== "acked" && current !== "resolved") out.push(b("Ack", () => ask(`Acknowledge ${n}`, "Reason", "text", "", (v) => act("ack", a, { reason: v }, "acknowledged"))));
    if (current !== "resolved")
      out.push(
        b("Suppress", () =>
          ask(`Suppress ${n}`, "Until", "datetime-local", isoToLocal(new Date(Date.now() + 3600 * 1000)), (v) => {
            const iso = localToIso(v);
            if (!iso) throw new Error("Choose a date and time.");
            return act("suppress", a, { until_iso: iso }, `suppressed until ${fmtTime(iso)}`);
          }),
        ),
      );
    if (current !== "resolved") out.push(b("Resolve", () => guard(act("resolve", a, {}, "resolved"))));
    out.push(b("Assign", () => ask(`Assign ${n}`, "Assignee", "text", a.assigned_to || "", (v) => act("assign", a, { assigned_to: v.trim() }, `assigned to ${v.trim() || "nobody"}`))));
    return h("td", { class: "row-actions" }, out);
  }

  function renderPanel() {
    for (const [key] of TABS) {
      tabBtns[key].setAttribute("aria-selected", String(key === current));
      tabBtns[key].tabIndex = key === current ? 0 : -1;
      tabBtns[key].textContent = `${TABS.find(([k]) => k === key)[1]} (${(data[key] || []).length})`;
    }
    panel.setAttribute("aria-labelledby", `tab-${current}`);
    const items = data[current] || [];
    const heads = ["Asset", "Posture", "Severity", "Reason", "Assignee", "Since / until", "Incidents"];
    if (canMutate) heads.push("Actions");
    replace(
      panel,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "data" },
          h("caption", { text: `${TABS.find(([k]) => k === current)[1]} alerts` }),
          h("thead", null, h("tr", null, heads.map((x) => h("th", { scope: "col", text: x })))),
          h(
            "tbody",
            null,
            items.length
              ? items.map((a) =>
                  h(
                    "tr",
                    { "data-alert-key": name(a) },
                    h("th", { scope: "row" }, a.asset_key ? h("a", { href: `#/assets/${encodeURIComponent(a.asset_key)}`, text: a.asset_name ? `${a.asset_name} (${a.asset_key})` : a.asset_key }) : name(a)),
                    h("td", null, a.posture_status ? postureBadge(a.posture_status) : "—"),
                    h("td", { text: fmt(a.effective_severity || a.severity) }),
                    h("td", { text: fmt(a.reason || a.ack_reason || a.maintenance_reason || a.suppression_reason) }),
                    h("td", { text: fmt(a.assigned_to) }),
                    h("td", { text: fmtTime(a.suppressed_until || a.maintenance_end_at || a.suppression_end_at || a.acked_at || a.resolved_at || a.last_seen) || "—" }),
                    h("td", { text: a.open_incident_ids && a.open_incident_ids.length ? a.open_incident_ids.map((i) => `#${i}`).join(" ") : "—" }),
                    actions(a),
                  ),
                )
              : emptyRow(heads.length, "Nothing here."),
          ),
        ),
      ),
    );
  }
  function select(key) {
    current = key;
    renderPanel();
  }

  let lastSig = "";
  async function load() {
    const d = await api.get("/alerts");
    if (!ctx.alive()) return;
    replace(err);
    const sig = JSON.stringify(d);
    if (sig === lastSig) return;
    lastSig = sig;
    data = d;
    renderPanel();
  }

  replace(main, h("h1", { text: "Alerts" }), err, msg, tablist, panel, dialog);
  ctx.onCleanup(() => dialog.open && dialog.close());
  try {
    await load();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.message }));
  }
  renderPanel();
  ctx.every(5000, async () => {
    if (!dialog.open) await load();
  });
}
