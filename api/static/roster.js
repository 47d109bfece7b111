// The roster page: send the chosen CSV file to the import API with the CSRF token, then
// list each user with their one-time initial password, or each problem by line.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const A = window.Autograder;
  const t = A.t;
  const form = document.getElementById("roster-form");
  const input = document.getElementById("roster-file");
  const button = document.getElementById("roster-submit");
  const errors = document.getElementById("roster-errors");
  const result = document.getElementById("roster-result");

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function showErrors(lines) {
    const items = lines.map(function (line) {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    });
    errors.replaceChildren(...items);
    errors.hidden = items.length === 0;
  }

  function showUsers(data) {
    A.setText("roster-summary", t("roster_summary", { created: data.created, updated: data.updated }));
    const rows = data.users.map(function (u) {
      const tr = document.createElement("tr");
      const password = cell(u.initial_password || t("roster_unchanged"));
      if (u.initial_password) password.className = "secret";
      tr.append(cell(String(u.line)), cell(u.name), cell(u.full_name), cell(u.email || ""), cell(t("role_" + u.role)), password);
      return tr;
    });
    document.getElementById("roster-users").replaceChildren(...rows);
    result.hidden = false;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const file = input.files[0];
    if (!file) {
      A.showStatus(t("choose_files"), true);
      return;
    }
    showErrors([]);
    result.hidden = true;
    button.disabled = true;
    A.showStatus(t("uploading"), false);
    const reset = document.getElementById("reset-passwords").checked;
    try {
      const response = await A.api(form.dataset.api + (reset ? "?reset_passwords=true" : ""), {
        method: "POST",
        headers: { "Content-Type": "text/csv" },
        body: file,
      });
      if (response.ok) {
        showUsers(await response.json());
        A.showStatus(t("done"), false);
        return;
      }
      let data = {};
      try { data = await response.json(); } catch (err) { data = {}; }
      A.showStatus(response.status + ": " + (data.detail || response.statusText), true);
      showErrors(Array.isArray(data.errors) ? data.errors : []);
    } catch (err) {
      A.showStatus(t("network_error") + " " + err, true);
    } finally {
      button.disabled = false;
    }
  });
});
