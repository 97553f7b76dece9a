// Scans: submit (git, directory or uploaded archive) and the list.
import * as api from "../api.js";
import { h, replace, fmt, fmtTime, field, select, emptyRow } from "../dom.js";

const PAGE_SIZE = 50;
const STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];

export function scanStatusBadge(s) {
  const kind = s === "SUCCEEDED" ? "good" : s === "FAILED" ? "bad" : s === "RUNNING" || s === "QUEUED" ? "info" : "neutral";
  return h("span", { class: `badge ${kind}`, text: fmt(s) });
}

export async function render(ctx) {
  const { main, canMutate } = ctx;
  const err = h("div");

  let form = null;
  if (canMutate) {
    const ws = h("input", { name: "workspace_id", required: true, autocomplete: "off" });
    const comp = h("input", { name: "component_id", required: true, autocomplete: "off" });
    const assess = h("input", { name: "assessment_id", required: true, autocomplete: "off" });
    const srcType = select(["git", "directory", "archive"], "git", { name: "source_type" });
    const gitUrl = h("input", { name: "git_url", type: "text", autocomplete: "off", placeholder: "https://… or file:///…" });
    const branch = h("input", { name: "branch", type: "text", autocomplete: "off", placeholder: "main" });
    const dir = h("input", { name: "directory_path", type: "text", autocomplete: "off" });
    const archive = h("input", { name: "file", type: "file", accept: ".zip,.tar,.tar.gz,.tgz" });
    const profile = h("input", { name: "profile", type: "text", value: "light", autocomplete: "off" });
    const manifest = h("textarea", { name: "manifest", rows: "3", spellcheck: "false", placeholder: '{"profiles": [{"name": "light", "tools": []}]}' });
    const status = h("div");
    const submit = h("button", { type: "submit", text: "Submit scan" });
    const gitGroup = h("fieldset", { class: "src src-git" }, h("legend", { text: "Git source" }), field("Repository URL", gitUrl), field("Branch", branch));
    const dirGroup = h("fieldset", { class: "src src-directory" }, h("legend", { text: "Directory source" }), field("Directory path", dir, "Must be under an allowed source root of the server."));
    const arcGroup = h("fieldset", { class: "src src-archive" }, h("legend", { text: "Archive source" }), field("Archive", archive, "Uploaded first, then scanned."));
    const showGroups = () => {
      for (const [g, t] of [[gitGroup, "git"], [dirGroup, "directory"], [arcGroup, "archive"]]) g.classList.toggle("inactive", srcType.value !== t);
    };
    srcType.addEventListener("change", showGroups);
    showGroups();
    form = h(
      "form",
      { "aria-label": "New scan", class: "card form-grid" },
      h("h2", { text: "New scan" }),
      field("Workspace", ws),
      field("Component", comp),
      field("Assessment", assess),
      field("Source type", srcType),
      gitGroup,
      dirGroup,
      arcGroup,
      field("Profile", profile, "standard or light run their default tools."),
      h("div", { class: "wide" }, field("Manifest (optional JSON)", manifest, "Empty: a manifest with the profile above and its default tools.")),
      status,
      h("div", { class: "actions" }, submit),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      submit.disabled = true;
      replace(status, h("p", { role: "status", text: "Submitting…" }));
      try {
        const body = {
          workspace_id: ws.value.trim(),
          component_id: comp.value.trim(),
          assessment_id: assess.value.trim(),
          source_type: srcType.value,
          profile: profile.value.trim() || "light",
        };
        if (manifest.value.trim()) {
          try {
            body.manifest = JSON.parse(manifest.value);
          } catch {
            throw new Error("The manifest is not valid JSON.");
          }
        } else {
          body.manifest = { profiles: [{ name: body.profile, tools: [] }] };
        }
        if (srcType.value === "git") {
          body.git_url = gitUrl.value.trim();
          if (branch.value.trim()) body.branch = branch.value.trim();
        } else if (srcType.value === "directory") {
          body.directory_path = dir.value.trim();
        } else {
          if (!archive.files || !archive.files.length) throw new Error("Choose an archive to upload.");
          replace(status, h("p", { role: "status", text: "Uploading archive…" }));
          const fd = new FormData();
          fd.append("file", archive.files[0]);
          const res = await api.request("POST", "/v1/security-scans/upload-archive", { body: fd });
          const up = await res.json();
          body.archive_path = up.archive_path;
        }
        const r = await api.post("/v1/security-scans", body);
        location.hash = `#/scans/${encodeURIComponent(r.test_id)}`;
      } catch (ex) {
        replace(status, h("p", { class: "error", role: "alert", text: ex.message }));
      } finally {
        submit.disabled = false;
      }
    });
  }

  const state = { page: 0 };
  const statusF = select([["", "All"], ...STATUSES], "");
  const summary = h("p", { class: "muted", role: "status" });
  const tbody = h("tbody");
  const prev = h("button", { type: "button", class: "secondary", text: "Previous page" });
  const next = h("button", { type: "button", class: "secondary", text: "Next page" });
  const pageInfo = h("span", { class: "muted" });

  async function load() {
    const p = await api.get(`/v1/security-scans${api.qs({ status: statusF.value, limit: PAGE_SIZE, offset: state.page * PAGE_SIZE })}`);
    if (!ctx.alive()) return;
    replace(err);
    const items = p.items || [];
    replace(
      tbody,
      items.length
        ? items.map((s) =>
            h(
              "tr",
              { "data-test-id": s.test_id },
              h("th", { scope: "row" }, h("a", { href: `#/scans/${encodeURIComponent(s.test_id)}`, text: s.test_id })),
              h("td", null, scanStatusBadge(s.status)),
              h("td", { text: fmt(s.workspace_id) }),
              h("td", { text: fmt(s.component_id) }),
              h("td", { text: fmt(s.assessment_id) }),
              h("td", { text: fmt(s.profile) }),
              h("td", { text: fmt(s.upload_status) }),
              h("td", { text: fmtTime(s.created_at || s.submitted_at) || "—" }),
            ),
          )
        : emptyRow(8, "No scans yet."),
    );
    const total = p.total ?? items.length;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    pageInfo.textContent = `Page ${state.page + 1} of ${pages}`;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    summary.textContent = `${total} scans`;
  }
  statusF.addEventListener("change", () => {
    state.page = 0;
    load().catch(() => {});
  });
  prev.addEventListener("click", () => {
    state.page = Math.max(0, state.page - 1);
    load().catch(() => {});
  });
  next.addEventListener("click", () => {
    state.page += 1;
    load().catch(() => {});
  });

  replace(
    main,
    h("h1", { text: "Scans" }),
    err,
    form,
    h(
      "section",
      { "aria-labelledby": "scan-list-h" },
      h("h2", { id: "scan-list-h", text: "Scans" }),
      h("div", { class: "toolbar" }, field("Filter status", statusF)),
      summary,
      h(
        "div",
        { class: "table-wrap" },
        h("table", { class: "data" }, h("caption", { text: "Security scans" }), h("thead", null, h("tr", null, ["Scan", "Status", "Workspace", "Component", "Assessment", "Profile", "Upload", "Submitted"].map((t) => h("th", { scope: "col", text: t })))), tbody),
      ),
      h("div", { class: "pager" }, prev, pageInfo, next),
    ),
  );
  try {
    await load();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.message }));
  }
  ctx.every(5000, load);
}
