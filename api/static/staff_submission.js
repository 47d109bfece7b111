// One submission for staff: files (downloads), and every run with its outcomes, log,
// phase timings, resource use and spec version. A re-grade of it alone applies itself.
"use strict";

(function () {
  const { api, el, number, t, named, inLanguage, withHint } = Staff;
  const url = document.getElementById("page").dataset.api;
  // Whose failure a run's is (autograder/grading/failures.py FailureKind).
  const OWNERS = {
    student: t("staff_owner_student"),
    spec: t("staff_owner_spec"),
    infra: t("staff_owner_infra"),
  };

  function table(head, rows, cls) {
    return el(
      "table",
      { class: cls || "" },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => (c instanceof Node ? c : el("td", {}, c))))))
    );
  }

  function keyValues(object, unit) {
    const entries = Object.entries(object || {});
    if (!entries.length) return el("p", { class: "note" }, t("staff_none_recorded"));
    return table(
      ["", t("staff_value")],
      entries.map(([k, v]) => [el("td", {}, el("code", {}, k)), el("td", { class: "num" }, typeof v === "number" ? number(v, 4) + (unit || "") : JSON.stringify(v))]),
      "compact"
    );
  }

  // A check's question and name: the ids, or in Chinese the spec's Chinese titles where
  // it has them (the id then in the cell's tooltip); its message in the page's language.
  function outcomes(list) {
    return table(
      [t("staff_col_question"), t("staff_col_check"), t("staff_col_points"), t("staff_col_result"), t("staff_col_message")],
      list.map((o) => {
        const question = inLanguage("", o.question_title_zh);
        const title = inLanguage("", o.title_zh);
        return [
          el("td", { title: question ? o.question : null }, question || o.question),
          el("td", { title: title ? o.check : null }, (title || o.check) + (o.hidden ? ` (${t("hidden")})` : "")),
          el("td", { class: "num" }, `${number(o.earned)} / ${number(o.points)}`),
          el("td", { class: o.passed ? "pass" : "fail" }, o.passed ? t("passed") : t("failed")),
          el("td", {}, inLanguage("", o.message_zh) || withHint(o.message || "", o.hint_zh)),
        ];
      }),
      "outcomes"
    );
  }

  function runBlock(run) {
    const score = run.score === null ? "—" : `${number(run.score)} / ${number(run.max_score)}`;
    const tags = [run.current ? t("staff_counted") : null, run.batch_id ? t("staff_regrade_tag", { id: run.batch_id }) : null]
      .filter(Boolean)
      .join(Staff.chinese ? "，" : ", ");
    const block = el(
      "details",
      { class: "run", id: `run-${run.id}`, open: run.current },
      el("summary", {}, t("staff_run_summary", { id: run.id, state: named("staff_run_", run.state), score: score }) + (tags ? ` · ${tags}` : ""))
    );
    block.append(
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, t("staff_spec_version")),
        el("dd", {}, el("code", { title: run.spec_hash }, run.spec_hash.slice(0, 12)), run.spec_is_current ? t("staff_spec_current") : t("staff_spec_older")),
        el("dt", {}, t("staff_queue")), el("dd", {}, run.queue),
        el("dt", {}, t("staff_attempts")), el("dd", {}, run.attempts),
        el("dt", {}, t("staff_times")),
        el("dd", {}, `${Staff.when(run.queued_at)} / ${Staff.when(run.started_at)} / ${Staff.when(run.finished_at)}`),
        el("dt", {}, t("staff_late_penalty")), el("dd", {}, Staff.percent(run.late_penalty)),
        el("dt", {}, t("staff_failure")), el("dd", {}, run.failure_kind ? `${OWNERS[run.failure_owner] || ""}${run.failure_kind}: ${run.failure_message || ""}` : "—")
      ),
      el("h3", {}, t("staff_checks")),
      outcomes(run.outcomes),
      el("div", { class: "columns" },
        el("div", {}, el("h3", {}, t("staff_timings")), keyValues(run.timings)),
        el("div", {}, el("h3", {}, t("staff_resources")), keyValues(run.resources))
      ),
      el("h3", {}, t("staff_output") + (run.log_truncated ? t("staff_truncated") : "")),
      el("pre", { class: "log" }, run.log)
    );
    return block;
  }

  function show(data) {
    const link = document.getElementById("assignment");
    link.textContent = data.assignment;
    link.setAttribute("href", `/staff/assignments/${encodeURIComponent(data.assignment)}`);
    Staff.setText("student", data.full_name ? `${data.student} (${data.full_name})` : data.student);
    Staff.setText("received", Staff.when(data.received_at));
    Staff.setText("late", data.is_late ? t("late_days", { n: data.late_days }) : t("staff_on_time"));
    Staff.setText("current-run", t("staff_run", { id: data.current_run }));
    const files = Staff.clear(document.getElementById("files"));
    for (const f of data.files) {
      files.append(
        el(
          "tr",
          {},
          el("td", {}, el("a", { href: f.download_url, download: f.name }, f.name)),
          el("td", { class: "num" }, f.size),
          el("td", {}, el("code", {}, f.sha256.slice(0, 16) + "…"))
        )
      );
    }
    const runs = Staff.clear(document.getElementById("runs"));
    for (const run of data.runs.slice().reverse()) runs.append(runBlock(run));
  }

  async function load() {
    try {
      show(await api(url));
      Staff.status("");
    } catch (err) {
      Staff.status(err.message, true);
    }
  }

  async function follow(batchUrl) {
    const batch = await api(batchUrl);
    const p = batch.progress;
    Staff.setText("regrade-note", t("staff_follow", { id: batch.id, state: named("staff_batch_", batch.state), done: p.done, total: p.total }));
    if (batch.state === "open" && p.done < p.total) {
      window.setTimeout(() => follow(batchUrl), 1500);
    } else {
      document.getElementById("regrade-one").disabled = false;
      load();
    }
  }

  document.getElementById("regrade-one").addEventListener("click", async (event) => {
    event.target.disabled = true;
    try {
      const batch = await api(`${url}/regrade`, { method: "POST" });
      follow(batch.url);
      load();
    } catch (err) {
      event.target.disabled = false;
      Staff.status(err.message, true);
    }
  });
  load();
})();
