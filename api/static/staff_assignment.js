// One assignment for TAs: counts, score statistics and histogram, the roster, the
// re-grade and every submission, all from /api/v1/staff/assignments/<slug>/...
"use strict";

(function () {
  const { api, el, number, t, named } = Staff;
  const page = document.getElementById("page");
  const base = page.dataset.api;

  function showStats(stats) {
    for (const key of ["submitted", "students", "graded", "late", "pending"]) {
      Staff.setText(`count-${key}`, stats.counts[key]);
    }
    Staff.setText(
      "count-failed",
      t("staff_failed_split", {
        failed: stats.counts.failed,
        student: stats.counts.failed_student,
        infra: stats.counts.failed_infra,
      })
    );
    Staff.setText("mean", number(stats.mean));
    Staff.setText("median", number(stats.median));
    Staff.setText(
      "pass-rate",
      stats.pass_rate === null
        ? "—"
        : t("staff_pass_rate", {
            rate: Staff.percent(stats.pass_rate),
            passed: stats.passed,
            scored: stats.scored,
            threshold: number(stats.pass_threshold),
          })
    );
    Staff.setText("max-points", number(stats.max_points));
    Staff.setText("histogram-caption", t("staff_histogram_caption", { n: stats.scored }));
    StaffHistogram.draw(document.getElementById("histogram"), stats.histogram, stats.pass_threshold);
  }

  function showSubmissions(rows) {
    const body = Staff.clear(document.getElementById("submission-rows"));
    for (const row of rows) {
      body.append(
        el(
          "tr",
          {},
          el("td", {}, el("a", { href: `/staff/submissions/${encodeURIComponent(row.id)}` }, Staff.when(row.received_at))),
          el("td", {}, row.student),
          el("td", { class: `state-${row.state}` }, named("staff_run_", row.state)),
          el("td", { class: "num" }, row.score === null ? "—" : `${number(row.score)} / ${number(row.max_score)}`),
          el("td", {}, row.is_late ? t("late_days", { n: row.late_days }) : "")
        )
      );
    }
  }

  async function load() {
    try {
      const [stats, roster, submissions] = await Promise.all([
        api(base),
        api(`${base}/roster`),
        api(`${base}/submissions`),
      ]);
      showStats(stats);
      StaffRoster.show(roster.rows, stats.pass_threshold);
      showSubmissions(submissions);
      Staff.status("");
    } catch (err) {
      Staff.status(err.message, true);
    }
  }

  StaffRoster.init();
  load().then(() => StaffRegrade.init(page.dataset.slug, load)).catch((err) => Staff.status(err.message, true));
})();
