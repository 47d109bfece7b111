// The result page: poll the API with the token until grading ends; render with textContent.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const A = window.Autograder;
  const section = document.getElementById("result");
  const tokenForm = document.getElementById("token-form");
  const tokenInput = document.getElementById("token");
  const FINAL = new Set(["graded", "failed_student", "failed_infra"]);
  const STATES = {
    queued: "queued 排队中",
    running: "running 评分中",
    graded: "graded 已评分",
    failed_student: "failed: problem in the submission 提交有误",
    failed_infra: "grading system problem 评分系统故障",
  };
  const POLL_MS = 2000;

  function number(value) {
    return value === null || value === undefined ? "—" : String(Math.round(value * 100) / 100);
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function outcomeRow(outcome) {
    const tr = document.createElement("tr");
    if (outcome.hidden) tr.className = "hidden-check";
    const name = (outcome.title || outcome.check || "hidden check 隐藏检查") +
      (outcome.hidden ? " (hidden 隐藏)" : "");
    const result = outcome.passed === null || outcome.passed === undefined
      ? "—" : (outcome.passed ? "passed 通过" : "failed 未通过");
    tr.append(
      cell(outcome.question || "—"),
      cell(name),
      cell(number(outcome.earned) + " / " + number(outcome.points)),
      cell(result, outcome.passed ? "pass" : (outcome.passed === false ? "fail" : "")),
    );
    const message = cell(outcome.message || "");
    if (outcome.details) {
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(outcome.details, null, 2);
      message.append(pre);
    }
    tr.append(message);
    return tr;
  }

  function render(view) {
    A.setText("assignment", view.assignment);
    A.setText("received", view.received_at);
    A.setText("state", (STATES[view.state] || view.state) + (view.phase ? " · " + view.phase : ""));
    A.setText("score", view.score === null ? "—" : number(view.score) + " / " + number(view.max_score));
    A.setText("late", view.is_late ? view.late_days + " day(s) 天" : "no 否");
    const failure = document.getElementById("failure");
    failure.hidden = !view.failure_kind;
    A.setText("failure-kind", view.failure_kind || "");
    A.setText("failure-message", view.failure_message || "");
    const rows = view.outcomes.map(outcomeRow);
    document.getElementById("outcomes").replaceChildren(...rows);
    A.setText("log", (view.log || "(no output 无输出)") +
      (view.log_truncated ? "\n… (output truncated 输出已截断)" : ""));
  }

  function askForToken(message) {
    tokenForm.hidden = false;
    A.showStatus(message, true);
  }

  async function poll() {
    const token = A.loadToken();
    if (!token) {
      askForToken("Enter your API token to see this submission. 请输入令牌。");
      return;
    }
    let response;
    try {
      response = await fetch(section.dataset.api, {
        headers: { Authorization: "Bearer " + token },
        cache: "no-store",
      });
    } catch (err) {
      A.showStatus("Network error, retrying… 网络错误，重试中… " + err, true);
      window.setTimeout(poll, POLL_MS * 2);
      return;
    }
    if (response.status === 401) {
      askForToken(await A.errorText(response));
      return;
    }
    if (!response.ok) {
      A.showStatus(response.status + ": " + (await A.errorText(response)), true);
      return;
    }
    const view = await response.json();
    tokenForm.hidden = true;
    render(view);
    if (FINAL.has(view.state)) {
      A.showStatus("Done. 完成。", false);
    } else {
      A.showStatus("Grading, this page updates itself… 评分中，页面会自动刷新…", false);
      window.setTimeout(poll, POLL_MS);
    }
  }

  tokenForm.addEventListener("submit", function (event) {
    event.preventDefault();
    A.saveToken(tokenInput.value.trim());
    poll();
  });
  poll();
});
