// Re-grading every submission of an assignment: start, follow the progress, read the
// before/after report, apply or discard.
"use strict";

window.StaffRegrade = (function () {
  const { api, el, number, t, named } = Staff;
  let slug = "";
  let batch = null;
  let timer = null;
  let onChange = () => {};
  let lastReport = null;

  function showBatch(data) {
    batch = data;
    const box = document.getElementById("regrade");
    box.hidden = false;
    const p = data.progress;
    Staff.setText("regrade-title", t("staff_regrade_title", { id: data.id, when: Staff.when(data.created_at) }));
    Staff.setText("regrade-state", named("staff_batch_", data.state));
    const bar = document.getElementById("regrade-progress");
    bar.max = Math.max(1, p.total);
    bar.value = p.done;
    Staff.setText(
      "regrade-counts",
      t("staff_regrade_counts", {
        done: p.done,
        total: p.total,
        queued: p.queued,
        running: p.running,
        graded: p.graded,
        failed_student: p.failed_student,
        failed_infra: p.failed_infra,
      })
    );
    const open = data.state === "open";
    document.getElementById("regrade-apply").disabled = !(open && p.done === p.total);
    document.getElementById("regrade-discard").disabled = !open;
    document.getElementById("regrade-start").disabled = open;
  }

  function showReport(report) {
    const s = report.summary;
    Staff.setText(
      "regrade-summary",
      t("staff_regrade_summary", { up: s.up, down: s.down, same: s.same, pending: s.pending, failed: s.failed })
    );
    const body = Staff.clear(document.getElementById("regrade-rows"));
    const changedOnly = document.getElementById("regrade-changed-only").checked;
    lastReport = report;
    for (const row of report.rows) {
      if (changedOnly && row.change === "same") continue;
      const delta = row.delta === null ? "" : (row.delta > 0 ? "+" : "") + number(row.delta);
      body.append(
        el(
          "tr",
          { class: `change-${row.change}`, "data-submission": row.submission_id },
          el("td", {}, row.student),
          el("td", {}, el("a", { href: `/staff/submissions/${encodeURIComponent(row.submission_id)}` }, row.submission_id.slice(0, 8))),
          el("td", { class: "num" }, number(row.before.score)),
          el("td", { class: "num" }, row.after.state === "graded" || row.after.state === "failed_student" ? number(row.after.score) : named("staff_run_", row.after.state)),
          el("td", { class: "num" }, delta || named("staff_change_", row.change))
        )
      );
    }
  }

  async function refresh() {
    if (!batch) return;
    try {
      const report = await api(`/api/v1/staff/regrades/${batch.id}/report`);
      showBatch(report.batch);
      showReport(report);
      const p = report.batch.progress;
      if (report.batch.state === "open" && p.done < p.total) {
        timer = window.setTimeout(refresh, 1500);
      }
    } catch (err) {
      Staff.status(err.message, true);
    }
  }

  const CONFIRM = {
    start: t("staff_confirm_start"),
    apply: t("staff_confirm_apply"),
    discard: t("staff_confirm_discard"),
  };

  async function act(verb) {
    if (!window.confirm(CONFIRM[verb])) return;
    window.clearTimeout(timer);
    try {
      const data = await api(`/api/v1/staff/regrades/${batch.id}/${verb}`, { method: "POST" });
      showBatch(data);
      await refresh();
      await onChange(); // reloads the page's figures (and clears the status line): first
      Staff.status(verb === "apply" ? t("staff_applied") : t("staff_discarded"));
    } catch (err) {
      Staff.status(err.message, true);
    }
  }

  async function start() {
    if (!window.confirm(CONFIRM.start)) return;
    document.getElementById("regrade-start").disabled = true;
    try {
      showBatch(await api(`/api/v1/staff/assignments/${encodeURIComponent(slug)}/regrades`, { method: "POST" }));
      Staff.status(t("staff_regrade_started"));
      refresh();
    } catch (err) {
      document.getElementById("regrade-start").disabled = false;
      Staff.status(err.message, true);
    }
  }

  async function init(assignment, changed) {
    slug = assignment;
    onChange = changed;
    document.getElementById("regrade-start").addEventListener("click", start);
    document.getElementById("regrade-changed-only").addEventListener("change", () => {
      if (lastReport) showReport(lastReport);
    });
    document.getElementById("regrade-apply").addEventListener("click", () => act("apply"));
    document.getElementById("regrade-discard").addEventListener("click", () => act("discard"));
    const batches = await api(`/api/v1/staff/assignments/${encodeURIComponent(slug)}/regrades`);
    const latest = batches.find((b) => b.scope === "assignment");
    if (latest) {
      showBatch(latest);
      refresh();
    }
  }

  return { init };
})();
