// One submission for staff: files (downloads), and every run with its outcomes, log,
// phase timings, resource use and spec version. A re-grade of it alone applies itself.
"use strict";

(function () {
  const { api, el, number } = Staff;
  const url = document.getElementById("page").dataset.api;
  // Whose failure a run's is (autograder/grading/failures.py FailureKind).
  const OWNERS = {
    student: "the student's program — ",
    spec: "the assignment's spec or reference solution (not retried; fix it, then re-grade) — ",
    infra: "ours, the grading system's (retried) — ",
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
    if (!entries.length) return el("p", { class: "note" }, "none recorded");
    return table(
      ["", "value"],
      entries.map(([k, v]) => [el("td", {}, el("code", {}, k)), el("td", { class: "num" }, typeof v === "number" ? number(v, 4) + (unit || "") : JSON.stringify(v))]),
      "compact"
    );
  }

  function outcomes(list) {
    return table(
      ["Question", "Check", "Points", "Result", "Message"],
      list.map((o) => [
        o.question,
        o.check + (o.hidden ? " (hidden)" : ""),
        el("td", { class: "num" }, `${number(o.earned)} / ${number(o.points)}`),
        el("td", { class: o.passed ? "pass" : "fail" }, o.passed ? "passed" : "failed"),
        el("td", {}, o.message || ""),
      ]),
      "outcomes"
    );
  }

  function runBlock(run) {
    const score = run.score === null ? "—" : `${number(run.score)} / ${number(run.max_score)}`;
    const tags = [run.current ? "counted" : null, run.batch_id ? `re-grade #${run.batch_id}` : null].filter(Boolean).join(", ");
    const block = el(
      "details",
      { class: "run", id: `run-${run.id}`, open: run.current },
      el("summary", {}, `Run ${run.id} · ${run.state} · ${score}` + (tags ? ` · ${tags}` : ""))
    );
    block.append(
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "Spec version"),
        el("dd", {}, el("code", { title: run.spec_hash }, run.spec_hash.slice(0, 12)), run.spec_is_current ? " (current)" : " (older)"),
        el("dt", {}, "Queue"), el("dd", {}, run.queue),
        el("dt", {}, "Attempts"), el("dd", {}, run.attempts),
        el("dt", {}, "Queued / started / finished"),
        el("dd", {}, `${Staff.when(run.queued_at)} / ${Staff.when(run.started_at)} / ${Staff.when(run.finished_at)}`),
        el("dt", {}, "Late penalty"), el("dd", {}, Staff.percent(run.late_penalty)),
        el("dt", {}, "Failure"), el("dd", {}, run.failure_kind ? `${OWNERS[run.failure_owner] || ""}${run.failure_kind}: ${run.failure_message || ""}` : "—")
      ),
      el("h3", {}, "Checks"),
      outcomes(run.outcomes),
      el("div", { class: "columns" },
        el("div", {}, el("h3", {}, "Phase timings (s)"), keyValues(run.timings)),
        el("div", {}, el("h3", {}, "Resource use"), keyValues(run.resources))
      ),
      el("h3", {}, "Program output" + (run.log_truncated ? " (truncated)" : "")),
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
    Staff.setText("late", data.is_late ? `${data.late_days} day(s)` : "on time");
    Staff.setText("current-run", `run ${data.current_run}`);
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
    Staff.setText("regrade-note", `re-grade #${batch.id}: ${batch.state}, ${p.done} of ${p.total} done`);
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
