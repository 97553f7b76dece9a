// The SecPlat dashboard: hash routing, the signed-in layout, and page lifecycle.
import * as api from "./api.js";
import { h, replace } from "./dom.js";
import * as login from "./pages/login.js";
import * as overview from "./pages/overview.js";
import * as assets from "./pages/assets.js";
import * as assetDetail from "./pages/asset_detail.js";
import * as findings from "./pages/findings.js";
import * as scans from "./pages/scans.js";
import * as scanDetail from "./pages/scan_detail.js";
import * as jobs from "./pages/jobs.js";
import * as incidents from "./pages/incidents.js";
import * as incidentDetail from "./pages/incident_detail.js";
import * as alerts from "./pages/alerts.js";
import * as maintenance from "./pages/maintenance.js";
import * as users from "./pages/users.js";

const NAV = [
  ["Overview", "#/overview"],
  ["Assets", "#/assets"],
  ["Findings", "#/findings"],
  ["Scans", "#/scans"],
  ["Jobs", "#/jobs"],
  ["Incidents", "#/incidents"],
  ["Alerts", "#/alerts"],
  ["Maintenance", "#/maintenance"],
  ["Users", "#/users", "admin"],
];

// [pattern, module, nav section]
const ROUTES = [
  [/^\/overview$/, overview, "#/overview"],
  [/^\/assets$/, assets, "#/assets"],
  [/^\/assets\/(.+)$/, assetDetail, "#/assets"],
  [/^\/findings$/, findings, "#/findings"],
  [/^\/scans$/, scans, "#/scans"],
  [/^\/scans\/(.+)$/, scanDetail, "#/scans"],
  [/^\/jobs$/, jobs, "#/jobs"],
  [/^\/incidents$/, incidents, "#/incidents"],
  [/^\/incidents\/(\d+)$/, incidentDetail, "#/incidents"],
  [/^\/alerts$/, alerts, "#/alerts"],
  [/^\/maintenance$/, maintenance, "#/maintenance"],
  [/^\/users$/, users, "#/users"],
];

const main = document.getElementById("main");
const top = document.getElementById("top");
const bannerSlot = document.getElementById("banner-slot");

let me = null; // {username, role}
let cleanups = [];
let renderSeq = 0;

function runCleanups() {
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {
      /* a page's cleanup must not stop navigation */
    }
  }
}

// API reachability banner.
let unreachable = false;
let healthTimer = null;
api.on("reachable", (ok) => {
  if (ok === !unreachable) return;
  unreachable = !ok;
  if (unreachable) {
    replace(bannerSlot, h("div", { class: "banner", role: "alert", text: "API unreachable — retrying…" }));
    if (!healthTimer) healthTimer = setInterval(pollHealth, 3000);
  } else {
    replace(bannerSlot);
    clearInterval(healthTimer);
    healthTimer = null;
  }
});
async function pollHealth() {
  try {
    const res = await fetch("/health", { cache: "no-store" });
    if (res.ok && unreachable) {
      unreachable = false;
      replace(bannerSlot);
      clearInterval(healthTimer);
      healthTimer = null;
      route();
    }
  } catch {
    /* still down */
  }
}

api.on("unauthorized", () => {
  me = null;
  const want = location.hash && !location.hash.startsWith("#/login") ? location.hash : "";
  location.hash = want ? `#/login?next=${encodeURIComponent(want)}` : "#/login";
});

function renderLayout(section) {
  top.hidden = false;
  const links = NAV.filter(([, , role]) => !role || (me && me.role === role)).map(([name, href]) =>
    h("li", null, h("a", { href, "aria-current": href === section ? "page" : null, text: name })),
  );
  const nav = h("nav", { "aria-label": "Main", id: "main-nav" }, h("ul", null, links));
  const signOut = h("button", {
    type: "button",
    class: "secondary",
    text: "Sign out",
    onclick: async () => {
      await api.logout();
      me = null;
      location.hash = "#/login";
    },
  });
  replace(
    top,
    h("div", { class: "brand" }, h("a", { href: "#/overview", text: "SecPlat" })),
    nav,
    h("div", { class: "who" }, h("span", { class: "muted", text: `${me.username} (${me.role})` }), signOut),
  );
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  return { path, query: new URLSearchParams(query || "") };
}

async function route() {
  const seq = ++renderSeq;
  runCleanups();
  const { path, query } = parseHash();

  if (path === "/login") {
    top.hidden = true;
    replace(top);
    if (api.token()) {
      // Already signed in (e.g. back button): go on.
      location.replace(query.get("next") || "#/overview");
      return;
    }
    login.render({ main, query, onSignedIn: () => location.replace(safeNext(query.get("next"))) });
    document.title = "Sign in · SecPlat";
    return;
  }
  if (!api.token()) {
    const want = path === "/" ? "" : location.hash;
    location.replace(want ? `#/login?next=${encodeURIComponent(want)}` : "#/login");
    return;
  }
  if (path === "/" || path === "") {
    location.replace("#/overview");
    return;
  }
  if (!me) {
    try {
      me = await api.get("/auth/me");
    } catch (e) {
      if (seq !== renderSeq) return;
      if (e.status === 401) return; // the unauthorized listener navigates
      replace(main, h("h1", { text: "SecPlat" }), h("p", { class: "error", role: "alert", text: e.message }));
      return;
    }
    if (seq !== renderSeq) return;
  }
  let match = null;
  for (const [re, mod, section] of ROUTES) {
    const m = path.match(re);
    if (m) {
      match = { mod, section, params: m.slice(1).map(decodeURIComponent) };
      break;
    }
  }
  if (!match) {
    renderLayout("");
    replace(main, h("h1", { text: "Not found" }), h("p", null, "No such page. ", h("a", { href: "#/overview", text: "Go to the overview" })));
    return;
  }
  if (match.section === "#/users" && me.role !== "admin") {
    renderLayout("");
    replace(main, h("h1", { text: "Users" }), h("p", { role: "alert", class: "error", text: "Only admins can manage users." }));
    return;
  }
  renderLayout(match.section);
  replace(main);
  const ctx = {
    main,
    me,
    params: match.params,
    query,
    canMutate: me.role === "admin" || me.role === "analyst",
    isAdmin: me.role === "admin",
    onCleanup: (fn) => cleanups.push(fn),
    // setInterval that stops with the page and skips while a tick is still running or the tab is hidden.
    every: (ms, fn) => {
      let busy = false;
      const t = setInterval(async () => {
        if (busy || document.hidden) return;
        busy = true;
        try {
          await fn();
        } catch {
          /* shown by the page or the banner */
        } finally {
          busy = false;
        }
      }, ms);
      cleanups.push(() => clearInterval(t));
    },
    alive: () => seq === renderSeq,
  };
  try {
    await match.mod.render(ctx);
  } catch (e) {
    if (seq !== renderSeq) return;
    if (!main.querySelector("h1")) main.prepend(h("h1", { text: "Error" }));
    main.appendChild(h("p", { class: "error", role: "alert", text: e.message || String(e) }));
  }
  const h1 = main.querySelector("h1");
  if (h1) document.title = `${h1.textContent} · SecPlat`;
}

function safeNext(next) {
  return next && next.startsWith("#/") && !next.startsWith("#/login") ? next : "#/overview";
}

// The skip link focuses <main> without touching the hash (the hash is the page's route).
document.getElementById("skip-link").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", () => {
  route();
  main.focus({ preventScroll: true });
});
route();
