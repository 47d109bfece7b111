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

  // A wait in whole seconds, or in minutes from two minutes on.
  function duration(seconds) {
    return seconds < 120 ? t("seconds_short", { n: Math.max(1, Math.round(seconds)) }) : t("minutes_short", { n: Math.round(seconds / 60) });
  }

  function points(earned, max) {
    return A.number(earned) + " / " + A.number(max);
  }

  // A title in the page's language where the spec has one (else English, else the id).
  const chinese = document.documentElement.lang.startsWith("zh");
  function inLanguage(english, zh) {
    return (chinese && zh) || english || "";
  }

  // The spec's hint in Chinese in place of the English one that ends a message.
  function withHint(message, hintZh) {
    const at = message.lastIndexOf("\nHint: ");
    return chinese && hintZh && at >= 0 ? message.slice(0, at) + "\n提示：" + hintZh : message;
  }

  function questionRow(question, outcomes) {
    const tr = document.createElement("tr");
    tr.className = "question";
    const first = outcomes[0] || {};
    question = inLanguage(first.question_title, first.question_title_zh) || question;
    const earned = outcomes.reduce((sum, o) => sum + (o.earned || 0), 0);
    const max = outcomes.reduce((sum, o) => sum + (o.points || 0), 0);
    const known = outcomes.every((o) => o.earned !== null && o.earned !== undefined);
    tr.append(cell(question), cell(t("question_total")), cell(known ? points(earned, max) : "—", "num"), cell(""), cell(""));
    return tr;
  }

  // Numbers in the raw details with at most four significant decimals.
  function rounded(key, value) {
    return typeof value === "number" && !Number.isInteger(value) ? Number(value.toPrecision(4)) : value;
  }

  function percent(value) {
    return typeof value === "number" && Number.isFinite(value) ? A.number(value * 100, 1) + "%" : "—";
  }

  // A classifier's results as tables instead of raw numbers: accuracy per class with a
  // bar, and the confusion matrix with each cell shaded by its share of the true class
  // (the diagonal green, mistakes red). Takes what it shows out of ``details``.
  function classifierView(details) {
    const matrix = details.confusion_matrix;
    const perClass = details.per_class_accuracy;
    if (!Array.isArray(matrix) || !Array.isArray(perClass) || matrix.length !== perClass.length) return null;
    const shown = chinese && Array.isArray(details.class_names_zh) ? details.class_names_zh : details.class_names;
    const names = Array.isArray(shown) && shown.length === matrix.length
      ? shown : matrix.map((_, i) => String(i));
    const view = document.createElement("div");
    view.className = "model-view";
    const bars = document.createElement("table");
    bars.className = "per-class";
    const head = document.createElement("tr");
    head.append(cell(t("class_name")), cell(t("class_accuracy")));
    bars.append(head);
    perClass.forEach(function (value, i) {
      const tr = document.createElement("tr");
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = (Number.isFinite(value) ? Math.max(0, Math.min(1, value)) * 100 : 0) + "%";
      const barCell = cell("", "bar-cell");
      const label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = percent(value);
      barCell.append(bar, label);
      tr.append(cell(names[i]), barCell);
      bars.append(tr);
    });
    const confusion = document.createElement("table");
    confusion.className = "confusion";
    const caption = document.createElement("caption");
    caption.textContent = t("confusion_caption");
    confusion.append(caption);
    const top = document.createElement("tr");
    top.append(cell(""), ...names.map((n) => cell(n, "predicted")));
    confusion.append(top);
    matrix.forEach(function (row, i) {
      const tr = document.createElement("tr");
      const total = row.reduce((a, b) => a + b, 0) || 1;
      tr.append(cell(names[i], "true"));
      row.forEach(function (count, j) {
        const td = cell(String(count), "num " + (i === j ? "hit" : "miss"));
        td.style.setProperty("--share", String(count / total));
        tr.append(td);
      });
      confusion.append(tr);
    });
    const scroll = document.createElement("div");
    scroll.className = "scroll";  // a 10 x 10 matrix is wider than a phone
    scroll.append(confusion);
    view.append(bars, scroll);
    const gallery = misclassifiedView(details.misclassified, names);
    if (gallery) {
      view.append(gallery);
      delete details.misclassified;
    }
    if (typeof details.accuracy === "number") details.accuracy = Number(details.accuracy.toFixed(4));
    delete details.confusion_matrix;
    delete details.per_class_accuracy;
    delete details.class_names;
    delete details.class_names_zh;
    return view;
  }

  // The test images the model got wrong (the published ones; a private test split sends
  // none), each drawn on a canvas from its pixels, captioned "true → predicted".
  function misclassifiedView(examples, names) {
    if (!Array.isArray(examples)) return null;
    const drawable = examples.filter((e) => typeof e.image === "string" && Array.isArray(e.shape));
    if (drawable.length === 0) return null;
    const figure = document.createElement("figure");
    figure.className = "misclassified";
    const caption = document.createElement("figcaption");
    caption.textContent = t("misclassified_caption");
    figure.append(caption);
    const list = document.createElement("ul");
    drawable.forEach(function (example) {
      const canvas = imageCanvas(example.image, example.shape);
      if (!canvas) return;
      const label = names[example.label] !== undefined ? names[example.label] : String(example.label);
      const predicted = names[example.predicted] !== undefined ? names[example.predicted] : String(example.predicted);
      const text = t("misclassified_example", { label: label, predicted: predicted, index: example.index });
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", text);
      const item = document.createElement("li");
      const words = document.createElement("span");
      words.textContent = label + " → " + predicted;
      item.title = text;
      item.append(canvas, words);
      list.append(item);
    });
    figure.append(list);
    return list.childElementCount ? figure : null;
  }

  // Grey (h, w) or colour (h, w, 3) uint8 pixels, base64, on a canvas of that size.
  function imageCanvas(data, shape) {
    let bytes;
    try {
      bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    } catch (err) {
      return null;
    }
    const h = shape[0], w = shape[1], channels = shape.length === 3 ? shape[2] : 1;
    if (!(h > 0 && w > 0 && h <= 256 && w <= 256) || (channels !== 1 && channels !== 3) || bytes.length !== h * w * channels) return null;
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const context = canvas.getContext("2d");
    if (!context) return null;
    const image = context.createImageData(w, h);
    for (let p = 0; p < h * w; p++) {
      for (let c = 0; c < 3; c++) image.data[4 * p + c] = bytes[p * channels + (channels === 3 ? c : 0)];
      image.data[4 * p + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    return canvas;
  }

  function outcomeRow(outcome) {
    const tr = document.createElement("tr");
    tr.className = "check" + (outcome.hidden ? " hidden-check" : "");
    const name = (inLanguage(outcome.title, outcome.title_zh) || outcome.check || t("hidden_check")) +
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
    text.textContent = chinese && outcome.message_zh ? outcome.message_zh : withHint(outcome.message || "", outcome.hint_zh);
    message.append(text);
    const details = Object.assign({}, outcome.details || {});
    delete details.curve;
    const model = classifierView(details);
    if (model) message.append(model);
    if (Object.keys(details).length > 0) {
      const box = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = t("details");
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(details, rounded, 2);
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
    const total = Number.isInteger(progress.epochs_total) ? progress.epochs_total : null;
    const epoch = total === null ? A.number(last.epoch, 0) : t("epoch_of", { k: A.number(last.epoch, 0), n: total });
    const cells = [epoch, A.number(last.loss, 4),
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
      const ahead = view.queue_position === 0 ? t("queue_next") : t("queue_ahead", { n: view.queue_position });
      const wait = view.estimated_wait_seconds;
      const about = wait === null || wait === undefined ? "" : " · " + t("queue_wait", { t: duration(wait) });
      A.setText("queue", ahead + about);
    }
    A.setText("score", view.score === null || view.score === undefined ? "—" : points(view.score, view.max_score));
    A.setText("late", view.is_late ? t("late_days", { n: view.late_days }) : t("no"));
    const note = document.getElementById("release-note");
    note.hidden = !view.release_note;
    note.textContent = view.release_note || "";
    document.getElementById("failure").hidden = !view.failure_kind;
    // The failure in the page's language, where the grader has its words (else its code).
    const language = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
    A.setText("failure-kind", (view.failure_titles || {})[language] || view.failure_kind || "");
    const inLanguage = (view.failure_messages || {})[language];
    A.setText("failure-message", inLanguage || view.failure_message || "");
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
