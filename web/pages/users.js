// Users and API keys (admins only; the API enforces it too).
import * as api from "../api.js";
import { h, replace, fmt, fmtTime, field, select, emptyRow } from "../dom.js";

const ROLES = ["viewer", "analyst", "admin"];

export async function render(ctx) {
  const { main, me } = ctx;
  const err = h("div");
  const msg = h("div", { "aria-live": "polite" });
  const usersBody = h("tbody");
  const keysBody = h("tbody");
  const newKey = h("div");
  const ok = (t) => replace(msg, h("p", { class: "ok", role: "status", text: t }));
  const fail = (ex) => replace(msg, h("p", { class: "error", role: "alert", text: ex.message }));
  const run = async (fn, done) => {
    try {
      await fn();
      ok(done);
      await load();
    } catch (ex) {
      fail(ex);
    }
  };

  const uName = h("input", { type: "text", required: true, autocomplete: "off" });
  const uRole = select(ROLES, "viewer");
  const uPass = h("input", { type: "password", autocomplete: "new-password", minlength: "8" });
  const userForm = h("form", { "aria-label": "New user", class: "toolbar" }, field("New username", uName), field("Role", uRole), field("Initial password", uPass, "At least 8 characters; empty = cannot sign in until reset."), h("div", { class: "field actions" }, h("button", { type: "submit", text: "Create user" })));
  userForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { username: uName.value.trim(), role: uRole.value };
    if (uPass.value) body.password = uPass.value;
    run(() => api.post("/auth/users", body), `User ${body.username} created.`).then(() => {
      uName.value = "";
      uPass.value = "";
    });
  });

  const kName = h("input", { type: "text", required: true, autocomplete: "off" });
  const kRole = select(ROLES, "viewer");
  const keyForm = h("form", { "aria-label": "New API key", class: "toolbar" }, field("Key name", kName), field("Key role", kRole), h("div", { class: "field actions" }, h("button", { type: "submit", text: "Create API key" })));
  keyForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const k = await api.post("/auth/api-keys", { name: kName.value.trim(), role: kRole.value });
      kName.value = "";
      replace(
        newKey,
        h("div", { class: "card", role: "status" }, h("p", null, h("strong", { text: `API key "${k.name}" created. ` }), "Copy it now: it is shown only once."), h("p", { class: "secret", "data-testid": "new-api-key", text: k.key }), h("button", { type: "button", class: "secondary", text: "Copy key", onclick: () => navigator.clipboard && navigator.clipboard.writeText(k.key) }), " ", h("button", { type: "button", class: "secondary", text: "Done", onclick: () => replace(newKey) })),
      );
      await load();
    } catch (ex) {
      fail(ex);
    }
  });

  async function load() {
    const [u, k] = await Promise.all([api.get("/auth/users"), api.get("/auth/api-keys")]);
    if (!ctx.alive()) return;
    replace(err);
    replace(
      usersBody,
      (u.items || []).map((x) => {
        const self = x.username === me.username;
        const role = select(ROLES, x.role, { "aria-label": `Role for ${x.username}`, disabled: self });
        role.addEventListener("change", () => run(() => api.patch(`/auth/users/${encodeURIComponent(x.username)}`, { role: role.value }), `${x.username} is now ${role.value}.`));
        return h(
          "tr",
          { "data-username": x.username },
          h("th", { scope: "row", text: x.username }),
          h("td", null, role),
          h("td", { text: x.disabled ? "disabled" : "active" }),
          h("td", { text: x.password_configured ? "yes" : "no" }),
          h("td", { text: fmt(x.source) }),
          h(
            "td",
            { class: "row-actions" },
            self
              ? h("span", { class: "muted", text: "you" })
              : [
                  h("button", { type: "button", class: "secondary small", text: x.disabled ? "Enable" : "Disable", "aria-label": `${x.disabled ? "Enable" : "Disable"} ${x.username}`, onclick: () => run(() => api.post(`/auth/users/${encodeURIComponent(x.username)}/${x.disabled ? "enable" : "disable"}`, {}), `${x.username} ${x.disabled ? "enabled" : "disabled"}.`) }),
                  h("button", {
                    type: "button",
                    class: "secondary small",
                    text: "Reset password",
                    "aria-label": `Reset password of ${x.username}`,
                    onclick: () => {
                      const p = prompt(`New password for ${x.username} (at least 8 characters)`);
                      if (p) run(() => api.post(`/auth/users/${encodeURIComponent(x.username)}/reset-password`, { password: p }), `Password of ${x.username} reset.`);
                    },
                  }),
                  h("button", { type: "button", class: "danger small", text: "Delete", "aria-label": `Delete ${x.username}`, onclick: () => confirm(`Delete user ${x.username}?`) && run(() => api.del(`/auth/users/${encodeURIComponent(x.username)}`), `${x.username} deleted.`) }),
                ],
          ),
        );
      }),
    );
    const keys = k.items || [];
    replace(
      keysBody,
      keys.length
        ? keys.map((x) =>
            h(
              "tr",
              { "data-key-id": String(x.id) },
              h("th", { scope: "row", text: x.name }),
              h("td", { text: x.prefix ? `${x.prefix}…` : "—" }),
              h("td", { text: x.role }),
              h("td", { text: fmt(x.created_by) }),
              h("td", { text: fmtTime(x.created_at) }),
              h("td", { text: fmtTime(x.last_used_at) || "never" }),
              h("td", null, x.revoked_at ? h("span", { class: "muted", text: `revoked ${fmtTime(x.revoked_at)}` }) : h("button", { type: "button", class: "danger small", text: "Revoke", "aria-label": `Revoke key ${x.name}`, onclick: () => confirm(`Revoke API key ${x.name}?`) && run(() => api.del(`/auth/api-keys/${x.id}`), `Key ${x.name} revoked.`) })),
            ),
          )
        : emptyRow(7, "No API keys."),
    );
  }

  replace(
    main,
    h("h1", { text: "Users" }),
    err,
    msg,
    h("section", { class: "card", "aria-labelledby": "u-h" }, h("h2", { id: "u-h", text: "Users and roles" }), userForm, h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { text: "Users" }), h("thead", null, h("tr", null, ["User", "Role", "State", "Password set", "Source", "Actions"].map((x) => h("th", { scope: "col", text: x })))), usersBody))),
    h("section", { class: "card", "aria-labelledby": "k-h" }, h("h2", { id: "k-h", text: "API keys" }), keyForm, newKey, h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { text: "API keys" }), h("thead", null, h("tr", null, ["Name", "Prefix", "Role", "Created by", "Created", "Last used", ""].map((x) => h("th", { scope: "col", text: x })))), keysBody))),
  );
  try {
    await load();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.message }));
  }
}
