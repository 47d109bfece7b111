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

  // The initial passwords as a CSV file made here (they are never stored in the clear, so
  // the server cannot give them again): UTF-8 with a byte-order mark for Excel, and a cell
  // that a spreadsheet would run as a formula starts with an apostrophe.
  let lastImport = [];
  function csvCell(value) {
    let text = String(value === null || value === undefined ? "" : value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function downloadPasswords() {
    const rows = [["name", "full_name", "email", "role", "initial_password"]];
    for (const u of lastImport) {
      if (u.initial_password) rows.push([u.name, u.full_name, u.email || "", u.role, u.initial_password]);
    }
    const text = "\ufeff" + rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    link.download = "initial-passwords.csv";
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  }
  document.getElementById("roster-download").addEventListener("click", downloadPasswords);

  function showUsers(data) {
    lastImport = data.users;
    document.getElementById("roster-download").hidden = !data.users.some((u) => u.initial_password);
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
      const language = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
      const said = (data.messages && data.messages[language]) || data.detail || response.statusText;
      A.showStatus(response.status + ": " + said, true);
      const lines = language === "zh" && Array.isArray(data.errors_zh) ? data.errors_zh : data.errors;
      showErrors(Array.isArray(lines) ? lines : []);
    } catch (err) {
      A.showStatus(t("network_error") + " " + err, true);
    } finally {
      button.disabled = false;
    }
  });
});
