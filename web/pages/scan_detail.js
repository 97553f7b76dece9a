// One scan: status, the live log over the WebSocket stream, the bundle and its publishing.
import * as api from "../api.js";
import { h, replace, fmt, fmtTime, saveBlob } from "../dom.js";
import { scanStatusBadge } from "./scans.js";

const FINAL = ["SUCCEEDED", "FAILED", "CANCELLED"];

export function eventLine(e) {
  const parts = [String(e.seq ?? ""), e.type || "event"];
  const rest = {};
  for (const [k, v] of Object.entries(e)) {
    if (["seq", "type", "timestamp"].includes(k)) continue;
    if (["message", "phase", "tool", "status", "line"].includes(k) && v !== null && typeof v !== "object") parts.push(String(v));
    else rest[k] = v;
  }
  if (Object.keys(rest).length) parts.push(JSON.stringify(rest));
  return parts.join(" ");
}

export async function render(ctx) {
  const { main, canMutate } = ctx;
  const id = ctx.params[0];
  const err = h("div");
  const statusEl = h("span", { "data-testid": "scan-status", text: "…" });
  const facts = h("dl", { class: "kv" });
  const actions = h("div", { class: "actions" });
  const actionMsg = h("div", { "aria-live": "polite" });
  const bundle = h("div");
  const log = h("pre", { role: "log", "aria-label": "Live log", "aria-live": "polite", class: "log", tabindex: "0" });
  const streamState = h("p", { class: "muted", role: "status" });
  const publishing = h("div");
  const fullRecord = h("pre", { class: "evidence", tabindex: "0" });

  replace(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "#/scans", text: "Scans" }), " / ", id),
    h("h1", { text: `Scan ${id}` }),
    err,
    h("section", { class: "card", "aria-labelledby": "st-h" }, h("h2", { id: "st-h", text: "Status" }), h("p", { class: "big" }, "Status: ", statusEl), facts, actions, actionMsg, bundle, h("h3", { text: "Upload and publishing" }), publishing, h("details", null, h("summary", { text: "Full record" }), fullRecord)),
    h("section", { class: "card", "aria-labelledby": "log-h" }, h("h2", { id: "log-h", text: "Live log" }), streamState, log),
  );

  let rec = null;
  async function loadStatus() {
    rec = await api.get(`/v1/security-scans/${encodeURIComponent(id)}`);
    if (!ctx.alive()) return;
    replace(err);
    statusEl.textContent = rec.status;
    statusEl.className = scanStatusBadge(rec.status).className;
    const show = (keys) => {
      const rows = [];
      for (const k of keys) {
        const v = rec[k];
        if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) continue;
        const text = typeof v === "object" ? JSON.stringify(v) : /_at$/.test(k) ? fmtTime(v) : String(v);
        rows.push(h("dt", { text: k.replace(/_/g, " ") }), h("dd", { text }));
      }
      return rows;
    };
    replace(
      facts,
      show(["workspace_id", "component_id", "assessment_id", "source_type", "git_url", "branch", "commit", "directory_path", "archive_path", "profile", "requested_by", "created_at", "started_at", "completed_at", "policy_passed", "manifest_digest", "warnings", "errors", "retry_of"]),
    );
    const pub = show(["upload_status", "upload_error", "upload_permission_id", "remote_artifacts", "registry", "promotion"]);
    replace(publishing, pub.length ? h("dl", { class: "kv" }, pub) : h("p", { class: "muted", text: "Not published." }));
    fullRecord.textContent = JSON.stringify(rec, null, 2);
    renderActions();
    renderBundle();
  }

  function renderActions() {
    const btns = [];
    if (canMutate && (rec.status === "QUEUED" || rec.status === "RUNNING")) btns.push(actionBtn("Cancel scan", "cancel"));
    if (canMutate && (rec.status === "FAILED" || rec.status === "CANCELLED")) btns.push(actionBtn("Retry scan", "retry"));
    if (canMutate && rec.status === "SUCCEEDED") btns.push(actionBtn("Publish bundle", "upload-request"));
    replace(actions, btns);
  }

  function actionBtn(label, path) {
    return h("button", {
      type: "button",
      class: "secondary",
      text: label,
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          const r = await api.post(`/v1/security-scans/${encodeURIComponent(id)}/${path}`, {});
          if (path === "retry" && r && r.test_id) {
            location.hash = `#/scans/${encodeURIComponent(r.test_id)}`;
            return;
          }
          replace(actionMsg, h("p", { class: "ok", role: "status", text: `${label}: ${r && (r.message || r.status || r.upload_status) ? r.message || r.status || r.upload_status : "done"}` }));
          await loadStatus();
        } catch (ex) {
          replace(actionMsg, h("p", { class: "error", role: "alert", text: ex.message }));
        } finally {
          e.target.disabled = false;
        }
      },
    });
  }

  let bundleShown = "";
  function renderBundle() {
    if (bundleShown === rec.status) return;
    bundleShown = rec.status;
    if (rec.status === "SUCCEEDED") {
      const href = `/v1/security-scans/${encodeURIComponent(id)}/artifacts`;
      const link = h("a", { href, download: `${id}.tar.gz`, class: "button-link", text: "Download bundle" });
      link.addEventListener("click", async (e) => {
        e.preventDefault();
        try {
          const res = await api.request("GET", href);
          saveBlob(await res.blob(), `${id}.tar.gz`);
        } catch (ex) {
          replace(actionMsg, h("p", { class: "error", role: "alert", text: ex.message }));
        }
      });
      replace(bundle, h("p", null, link));
    } else if (FINAL.includes(rec.status)) {
      replace(bundle, h("p", { class: "muted", text: `No bundle: the scan is ${rec.status}.` }));
    } else {
      replace(bundle);
    }
  }

  // The stream: the whole history (since=0), then live events; reconnects after the last seq seen.
  let lastSeq = 0;
  let ws = null;
  let done = false;
  let retries = 0;
  function connect() {
    if (!ctx.alive() || done) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/v1/security-scans/${encodeURIComponent(id)}/stream?since=${lastSeq}&access_token=${encodeURIComponent(api.token() || "")}`;
    streamState.textContent = "Connecting to the live log…";
    ws = new WebSocket(url);
    ws.addEventListener("open", () => {
      retries = 0;
      streamState.textContent = "Streaming.";
    });
    ws.addEventListener("message", (m) => {
      let e;
      try {
        e = JSON.parse(m.data);
      } catch {
        return;
      }
      if (typeof e.seq === "number") {
        if (e.seq <= lastSeq) return;
        lastSeq = e.seq;
      }
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.appendChild(document.createTextNode(eventLine(e) + "\n"));
      if (atBottom) log.scrollTop = log.scrollHeight;
      if (e.type === "scan_complete") {
        done = true;
        loadStatus().catch(() => {});
      }
    });
    ws.addEventListener("close", (ev) => {
      ws = null;
      if (!ctx.alive()) return;
      if (done || ev.code === 1000) {
        done = true;
        streamState.textContent = "Stream ended.";
        loadStatus().catch(() => {});
        return;
      }
      retries += 1;
      streamState.textContent = `Stream closed (${ev.code}); reconnecting…`;
      setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(retries, 5)));
    });
  }
  ctx.onCleanup(() => {
    done = true;
    if (ws) ws.close(1000);
  });

  try {
    await loadStatus();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.status === 404 ? `Scan ${id} not found.` : e.message }));
    statusEl.textContent = "unknown";
    return;
  }
  connect();
  // Every 3 s while the scan runs; every 9 s after (publishing may still change the record).
  let ticks = 0;
  ctx.every(3000, async () => {
    if (rec && FINAL.includes(rec.status) && done && ++ticks % 3) return;
    await loadStatus();
  });
}
