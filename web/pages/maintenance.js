// Maintenance windows and suppression rules: list, create, delete.
import * as api from "../api.js";
import { h, replace, fmt, fmtTime, field, select, localToIso, isoToLocal, emptyRow } from "../dom.js";

export async function render(ctx) {
  const { main, canMutate } = ctx;
  const err = h("div");
  const msg = h("div", { "aria-live": "polite" });
  const winBody = h("tbody");
  const ruleBody = h("tbody");
  const ok = (t) => replace(msg, h("p", { class: "ok", role: "status", text: t }));
  const fail = (ex) => replace(msg, h("p", { class: "error", role: "alert", text: ex.message }));
  const now = () => isoToLocal(new Date());
  const inHour = () => isoToLocal(new Date(Date.now() + 3600 * 1000));

  let winForm = null;
  let ruleForm = null;
  if (canMutate) {
    const wKey = h("input", { type: "text", required: true, autocomplete: "off" });
    const wStart = h("input", { type: "datetime-local", required: true, value: now() });
    const wEnd = h("input", { type: "datetime-local", required: true, value: inHour() });
    const wReason = h("input", { type: "text", autocomplete: "off" });
    winForm = h("form", { "aria-label": "New maintenance window", class: "toolbar" }, field("Asset key", wKey), field("Window start", wStart), field("Window end", wEnd), field("Window reason", wReason), h("div", { class: "field actions" }, h("button", { type: "submit", text: "Create window" })));
    winForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api.post("/suppression/maintenance-windows", { asset_key: wKey.value.trim(), start_at: localToIso(wStart.value), end_at: localToIso(wEnd.value), reason: wReason.value.trim() });
        ok("Maintenance window created.");
        wKey.value = "";
        wReason.value = "";
        await load();
      } catch (ex) {
        fail(ex);
      }
    });
    const rScope = select(["asset", "finding", "all"], "asset");
    const rValue = h("input", { type: "text", autocomplete: "off" });
    const rStart = h("input", { type: "datetime-local", required: true, value: now() });
    const rEnd = h("input", { type: "datetime-local", required: true, value: inHour() });
    const rReason = h("input", { type: "text", autocomplete: "off" });
    ruleForm = h("form", { "aria-label": "New suppression rule", class: "toolbar" }, field("Scope", rScope), field("Scope value", rValue, "Asset key or finding key; empty for all."), field("Rule start", rStart), field("Rule end", rEnd), field("Rule reason", rReason), h("div", { class: "field actions" }, h("button", { type: "submit", text: "Create rule" })));
    ruleForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const body = { scope: rScope.value, starts_at: localToIso(rStart.value), ends_at: localToIso(rEnd.value), reason: rReason.value.trim() };
        if (rScope.value !== "all") body.scope_value = rValue.value.trim();
        await api.post("/suppression/rules", body);
        ok("Suppression rule created.");
        rValue.value = "";
        rReason.value = "";
        await load();
      } catch (ex) {
        fail(ex);
      }
    });
  }

  const delBtn = (label, path, done) =>
    canMutate
      ? h("td", null, h("button", {
          type: "button",
          class: "danger small",
          text: "Delete",
          "aria-label": `Delete ${label}`,
          onclick: async () => {
            if (!confirm(`Delete ${label}?`)) return;
            try {
              await api.del(path);
              ok(done);
              await load();
            } catch (ex) {
              fail(ex);
            }
          },
        }))
      : null;
  const active = (s, e) => {
    const t = Date.now();
    return new Date(s).getTime() <= t && t <= new Date(e).getTime();
  };

  async function load() {
    const [w, r] = await Promise.all([api.get("/suppression/maintenance-windows"), api.get("/suppression/rules")]);
    if (!ctx.alive()) return;
    replace(err);
    const wi = w.items || [];
    const ri = r.items || [];
    const cols = canMutate ? 6 : 5;
    replace(
      winBody,
      wi.length
        ? wi.map((x) => h("tr", { "data-window-id": String(x.id) }, h("td", { text: x.asset_key }), h("td", { text: fmtTime(x.start_at) }), h("td", { text: fmtTime(x.end_at) }), h("td", { text: active(x.start_at, x.end_at) ? "active" : "inactive" }), h("td", { text: fmt(x.reason) }), delBtn(`maintenance window ${x.id} for ${x.asset_key}`, `/suppression/maintenance-windows/${x.id}`, "Window deleted.")))
        : emptyRow(cols, "No maintenance windows."),
    );
    replace(
      ruleBody,
      ri.length
        ? ri.map((x) => h("tr", { "data-rule-id": String(x.id) }, h("td", { text: `${x.scope}${x.scope_value ? ": " + x.scope_value : ""}` }), h("td", { text: fmtTime(x.starts_at) }), h("td", { text: fmtTime(x.ends_at) }), h("td", { text: active(x.starts_at, x.ends_at) ? "active" : "inactive" }), h("td", { text: fmt(x.reason) }), delBtn(`suppression rule ${x.id}`, `/suppression/rules/${x.id}`, "Rule deleted.")))
        : emptyRow(cols, "No suppression rules."),
    );
  }
  const th = (cols) => h("thead", null, h("tr", null, [...cols, ...(canMutate ? [""] : [])].map((x) => h("th", { scope: "col", text: x }))));
  replace(
    main,
    h("h1", { text: "Maintenance" }),
    err,
    msg,
    h("section", { class: "card", "aria-labelledby": "mw-h" }, h("h2", { id: "mw-h", text: "Maintenance windows" }), winForm, h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { text: "Maintenance windows" }), th(["Asset", "Start", "End", "State", "Reason"]), winBody))),
    h("section", { class: "card", "aria-labelledby": "sr-h" }, h("h2", { id: "sr-h", text: "Suppression rules" }), ruleForm, h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { text: "Suppression rules" }), th(["Scope", "Start", "End", "State", "Reason"]), ruleBody))),
  );
  try {
    await load();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.message }));
  }
  ctx.every(5000, load);
}
