import * as api from "../api.js";
import { h, replace, field } from "../dom.js";

export function render({ main, onSignedIn }) {
  const user = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const status = h("div", { class: "form-status" });
  const submit = h("button", { type: "submit", text: "Sign in" });
  const form = h(
    "form",
    { "aria-label": "Sign in", class: "card login-form" },
    field("Username", user),
    field("Password", pass),
    status,
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    replace(status);
    try {
      await api.login(user.value.trim(), pass.value);
      onSignedIn();
    } catch (err) {
      replace(status, h("p", { class: "error", role: "alert", text: err.message }));
      pass.select();
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, h("div", { class: "login" }, h("h1", { text: "Sign in" }), h("p", { class: "muted", text: "SecPlat security posture platform" }), form));
  user.focus();
}
