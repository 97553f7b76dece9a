// DOM helpers. Everything from the API goes in as text (textContent / attributes), never as HTML.

// h("tag", {attrs}, ...children): children are nodes, strings (text), arrays, or null (skipped).
// attrs: `class`, `text`, `on<event>` handlers, `dataset` object, booleans (true = present), others as attributes.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") el.textContent = String(v);
      else if (k === "class") el.className = v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "value") el.value = v;
      else if (k === "checked" || k === "selected") el[k] = !!v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// The one row a table body shows when it has nothing to list.
export function emptyRow(colspan, text) {
  return h("tr", null, h("td", { colspan, class: "muted", text }));
}

// "2026-11-24T01:38:45Z" → local "2026-11-24 02:38:45"; "" for null.
export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtAgo(iso) {
  if (!iso) return "never";
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (!isFinite(s)) return String(iso);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function fmt(v) {
  if (v === null || v === undefined || v === "") return "—";
  return String(v);
}

// The green/amber/red badge: text always next to the colour.
export function postureBadge(posture) {
  const p = String(posture || "unknown");
  return h("span", { class: `badge posture-${p}`, "data-testid": "posture", "data-posture": p, text: p });
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || "neutral"}`, text: fmt(text) });
}

// A labelled form control: <div class="field"><label for>Label</label><control id></div>.
let fieldSeq = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const hintEl = hint ? h("small", { id: `${id}-hint`, class: "muted", text: hint }) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id, text: label }), control, hintEl);
}

export function select(options, value, attrs) {
  const s = h("select", attrs || {});
  for (const o of options) {
    const [v, t] = Array.isArray(o) ? o : [o, o];
    s.appendChild(h("option", { value: v, text: t, selected: v === value }));
  }
  if (value !== undefined) s.value = value;
  return s;
}

// A status line for async results: role=status for progress, role=alert for errors.
export function message(el, text, isError) {
  replace(el, text ? h("p", { class: isError ? "error" : "ok", role: isError ? "alert" : "status", text }) : null);
}

// Saves a Blob as a file through a temporary object URL.
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// CSV with formula-injection guard (cells starting with = + - @ get a leading ').
export function toCsv(header, rows) {
  const cell = (v) => {
    let s = v === null || v === undefined ? "" : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

// "2026-11-24T10:00" (datetime-local, local time) → RFC 3339 UTC.
export function localToIso(v) {
  if (!v) return "";
  const d = new Date(v);
  return isNaN(d) ? "" : d.toISOString();
}

export function isoToLocal(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
