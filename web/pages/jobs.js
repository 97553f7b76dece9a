// Jobs: enqueue, list with a status filter, detail with its log (polled while it runs), retry.
import * as api from "../api.js";
import { h, replace, fmt, fmtTime, field, select, emptyRow } from "../dom.js";

const JOB_TYPES = ["web_exposure", "tls_headers", "health_http", "score_recompute"];
const STATUSES = [["", "All"], ["queued", "Queued"], ["running", "Running"], ["done", "Done"], ["failed", "Failed"]];

export async function render(ctx) {
  const { main, canMutate } = ctx;
  const err = h("div");
  const msg = h("div", { "aria-live": "polite" });
  let form = null;
  if (canMutate) {
    const type = select(JOB_TYPES, "web_exposure");
    const asset = h("input", { type: "text", autocomplete: "off", placeholder: "asset key" });
    const submit = h("button", { type: "submit", text: "Enqueue job" });
    form = h("form", { "aria-label": "New job", class: "card toolbar" }, field("Job type", type), field("Asset key", asset, "Not needed for score_recompute."), h("div", { class: "field actions" }, submit));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      submit.disabled = true;
      try {
        const body = { job_type: type.value };
        if (asset.value.trim()) body.asset_key = asset.value.trim();
        const j = await api.post("/jobs", body);
        replace(msg, h("p", { class: "ok", role: "status", text: `Job ${j.job_id} ${j.status || "queued"}.` }));
        selected = j.job_id;
        await load();
        await loadDetail();
      } catch (ex) {
        replace(msg, h("p", { class: "error", role: "alert", text: ex.message }));
      } finally {
        submit.disabled = false;
      }
    });
  }
  const statusF = select(STATUSES, "");
  const tbody = h("tbody");
  const detail = h("section", { class: "card", "aria-labelledby": "job-h", hidden: true });
  let selected = null;

  async function load() {
    const p = await api.get(`/jobs${api.qs({ status: statusF.value, limit: 200 })}`);
    if (!ctx.alive()) return;
    replace(err);
    const items = p.items || [];
    replace(
      tbody,
      items.length
        ? items.map((j) =>
            h(
              "tr",
              { "data-job-id": String(j.job_id) },
              h("th", { scope: "row" }, h("button", { type: "button", class: "secondary small", text: `#${j.job_id}`, "aria-label": `Show job ${j.job_id}`, onclick: () => ((selected = j.job_id), loadDetail().catch(() => {})) })),
              h("td", { text: j.job_type }),
              h("td", { text: fmt(j.asset_key) }),
              h("td", null, h("span", { class: `badge ${j.status === "done" ? "good" : j.status === "failed" ? "bad" : "info"}`, text: j.status })),
              h("td", { text: fmt(j.requested_by) }),
              h("td", { text: fmtTime(j.created_at) }),
              h("td", { text: fmtTime(j.finished_at) || "—" }),
              h("td", { text: fmt(j.retry_count) }),
            ),
          )
        : emptyRow(8, "No jobs."),
    );
  }

  async function loadDetail() {
    if (!selected) return;
    const j = await api.get(`/jobs/${selected}`);
    if (!ctx.alive()) return;
    detail.hidden = false;
    const retry =
      canMutate && (j.status === "failed" || j.status === "done")
        ? h("button", {
            type: "button",
            text: "Retry job",
            onclick: async () => {
              try {
                await api.post(`/jobs/${j.job_id}/retry`, {});
                replace(msg, h("p", { class: "ok", role: "status", text: `Job ${j.job_id} queued again.` }));
                await load();
                await loadDetail();
              } catch (ex) {
                replace(msg, h("p", { class: "error", role: "alert", text: ex.message }));
              }
            },
          })
        : null;
    replace(
      detail,
      h("h2", { id: "job-h", text: `Job #${j.job_id} (${j.job_type})` }),
      h(
        "dl",
        { class: "kv" },
        ["status", "asset_key", "requested_by", "created_at", "started_at", "finished_at", "error", "retry_count"].map((k) => [
          h("dt", { text: k.replace(/_/g, " ") }),
          h("dd", { text: /_at$/.test(k) ? fmtTime(j[k]) || "—" : fmt(j[k]) }),
        ]),
      ),
      h("div", { class: "actions" }, retry),
      h("h3", { text: "Log" }),
      h("pre", { class: "log", role: "log", "aria-label": "Job log", tabindex: "0", text: j.log_output || "(no output yet)" }),
    );
  }

  statusF.addEventListener("change", () => load().catch(() => {}));
  replace(
    main,
    h("h1", { text: "Jobs" }),
    err,
    form,
    msg,
    h("div", { class: "toolbar" }, field("Filter status", statusF)),
    h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("caption", { text: "Jobs" }), h("thead", null, h("tr", null, ["Job", "Type", "Asset", "Status", "Requested by", "Created", "Finished", "Retries"].map((t) => h("th", { scope: "col", text: t })))), tbody)),
    detail,
  );
  try {
    await load();
  } catch (e) {
    replace(err, h("p", { class: "error", role: "alert", text: e.message }));
  }
  ctx.every(3000, async () => {
    await load();
    await loadDetail();
  });
}
