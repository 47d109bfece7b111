// The result page: poll the API (session cookie) until grading ends. While queued it shows
// the queue position, while running the phase and the latest epoch with a live curve;
// then the score per question and check, the training curves and the program's output.
// Everything is written with textContent or DOM nodes, never parsed as HTML.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const A = window.Autograder;
  const t = A.t;
  const section = document.getElementById("result");
  const FINAL = new Set(["graded", "failed_student", "failed_infra", "superseded"]);
  const POLL_MS = 2000;

  // A phase or state in words; one the catalogue does not know is shown as it is.
  function named(prefix, value) {
    const key = prefix + value;
    const text = t(key);
    return text === key ? String(value) : text;
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function points(earned, max) {
    return A.number(earned) + " / " + A.number(max);
  }

  function questionRow(question, outcomes) {
    const tr = document.createElement("tr");
    tr.className = "question";
    const earned = outcomes.reduce((sum, o) => sum + (o.earned || 0), 0);
    const max = outcomes.reduce((sum, o) => sum + (o.points || 0), 0);
    const known = outcomes.every((o) => o.earned !== null && o.earned !== undefined);
    tr.append(cell(question), cell(t("question_total")), cell(known ? points(earned, max) : "—", "num"), cell(""), cell(""));
    return tr;
  }

  function outcomeRow(outcome) {
    const tr = document.createElement("tr");
    tr.className = "check" + (outcome.hidden ? " hidden-check" : "");
    const name = (outcome.title || outcome.check || t("hidden_check")) +
      (outcome.hidden ? " (" + t("hidden") + ")" : "");
    const passed = outcome.passed;
    const result = passed === null || passed === undefined ? "—" : (passed ? t("passed") : t("failed"));
    tr.append(
      cell(""),
      cell(name),
      cell(points(outcome.earned, outcome.points), "num"),
      cell(result, passed ? "pass" : (passed === false ? "fail" : "")),
    );
    const message = cell("", "message");
    const text = document.createElement("div");
    text.className = "message-text";
    text.textContent = outcome.message || "";
    message.append(text);
    const details = Object.assign({}, outcome.details || {});
    delete details.curve;
    if (Object.keys(details).length > 0) {
      const box = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = t("details");
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(details, null, 2);
      box.append(summary, pre);
      message.append(box);
    }
    tr.append(message);
    return tr;
  }

  function renderOutcomes(outcomes) {
    const rows = [];
    const groups = new Map();
    for (const o of outcomes) {
      const key = o.question || "—";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(o);
    }
    for (const [question, list] of groups) {
      rows.push(questionRow(question, list));
      for (const o of list) rows.push(outcomeRow(o));
    }
    document.getElementById("outcomes").replaceChildren(...rows);
  }

  function renderCurves(outcomes) {
    const charts = [];
    for (const o of outcomes) {
      const curve = o.details && Array.isArray(o.details.curve) ? o.details.curve : [];
      if (curve.length === 0) continue;
      const figure = document.createElement("figure");
      const caption = document.createElement("figcaption");
      caption.textContent = (o.title || o.check || "") + " · " + t("curve_caption");
      figure.append(window.AutograderChart.trainingChart(curve, caption.textContent), caption);
      charts.push(figure);
    }
    document.getElementById("curve-charts").replaceChildren(...charts);
    document.getElementById("curves").hidden = charts.length === 0;
  }

  function renderProgress(view) {
    const box = document.getElementById("progress");
    const progress = view.progress || {};
    const epochs = Array.isArray(progress.epochs) ? progress.epochs : [];
    const live = view.state === "running" && epochs.length > 0;
    box.hidden = !live;
    if (!live) return;
    A.setText("progress-phase", t("training_phase", {
      check: progress.check || "", phase: named("phase_", progress.phase || "train"),
    }));
    const last = epochs[epochs.length - 1];
    const cells = [A.number(last.epoch, 0), A.number(last.loss, 4),
      last.train_accuracy === undefined ? "—" : A.number(last.train_accuracy * 100, 2) + "%",
      A.number(last.seconds, 2)].map((text) => cell(text, "num"));
    document.getElementById("latest-epoch").replaceChildren(...cells);
    document.getElementById("live-chart").replaceChildren(
      window.AutograderChart.trainingChart(epochs, t("curve_caption")));
  }

  function render(view) {
    A.setText("received", A.when(view.received_at));
    const state = named("state_", view.state) + (view.phase ? " · " + named("phase_", view.phase) : "");
    A.setText("state", state);
    const queued = view.state === "queued" && view.queue_position !== null && view.queue_position !== undefined;
    document.getElementById("queue").hidden = !queued;
    document.getElementById("queue-label").hidden = !queued;
    if (queued) {
      A.setText("queue", view.queue_position === 0 ? t("queue_next") : t("queue_ahead", { n: view.queue_position }));
    }
    A.setText("score", view.score === null || view.score === undefined ? "—" : points(view.score, view.max_score));
    A.setText("late", view.is_late ? t("late_days", { n: view.late_days }) : t("no"));
    const note = document.getElementById("release-note");
    note.hidden = !view.release_note;
    note.textContent = view.release_note || "";
    document.getElementById("failure").hidden = !view.failure_kind;
    A.setText("failure-kind", view.failure_kind || "");
    A.setText("failure-message", view.failure_message || "");
    renderProgress(view);
    renderOutcomes(view.outcomes || []);
    renderCurves(view.outcomes || []);
    A.setText("log", (view.log || t("no_output")) + (view.log_truncated ? "\n… " + t("output_truncated") : ""));
  }

  async function poll() {
    let response;
    try {
      response = await A.api(section.dataset.api);
    } catch (err) {
      A.showStatus(t("network_retrying") + " " + err, true);
      window.setTimeout(poll, POLL_MS * 2);
      return;
    }
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
      return;
    }
    if (!response.ok) {
      A.showStatus(response.status + ": " + (await A.errorText(response)), true);
      return;
    }
    const view = await response.json();
    render(view);
    if (FINAL.has(view.state)) {
      A.showStatus(t("done"), false);
    } else {
      A.showStatus(t("grading_live"), false);
      window.setTimeout(poll, POLL_MS);
    }
  }

  poll();
});
