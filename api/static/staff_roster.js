// The roster table: sorted by a click on a column's header (again: the other way),
// filtered by a text and by a group, all in the browser.
"use strict";

window.StaffRoster = (function () {
  const state = { rows: [], key: "student", type: "text", descending: false, passAt: 0 };
  const { el, number } = Staff;

  function matches(row, text, group) {
    const haystack = [row.student, row.full_name, row.email].join(" ").toLowerCase();
    if (text && !haystack.includes(text)) return false;
    if (group === "submitted") return row.attempts > 0;
    if (group === "missing") return row.attempts === 0;
    if (group === "failing") return row.counted === null || row.counted < state.passAt - 1e-9;
    if (group === "late") return row.late_days > 0;
    return true;
  }

  function compare(a, b) {
    const x = a[state.key];
    const y = b[state.key];
    let order;
    if (state.type === "number") {
      // Students without a score come last whichever way the column is sorted.
      const missingX = x === null || x === undefined;
      const missingY = y === null || y === undefined;
      if (missingX !== missingY) return missingX ? 1 : -1;
      order = missingX ? 0 : x - y;
    } else {
      order = String(x || "").localeCompare(String(y || ""));
    }
    if (order === 0) order = String(a.student).localeCompare(String(b.student));
    return state.descending ? -order : order;
  }

  function scoreCell(value, submission) {
    if (value === null || value === undefined) return el("td", { class: "num" }, "—");
    const text = number(value);
    if (!submission) return el("td", { class: "num" }, text);
    return el("td", { class: "num" }, el("a", { href: `/staff/submissions/${encodeURIComponent(submission)}` }, text));
  }

  function render() {
    const body = document.getElementById("roster-rows");
    const text = document.getElementById("roster-filter").value.trim().toLowerCase();
    const group = document.getElementById("roster-show").value;
    const shown = state.rows.filter((row) => matches(row, text, group)).sort(compare);
    Staff.clear(body);
    for (const row of shown) {
      const failing = row.counted !== null && row.counted < state.passAt - 1e-9;
      body.append(
        el(
          "tr",
          { "data-student": row.student, class: failing ? "failing" : null },
          el("td", {}, row.student),
          el("td", {}, row.full_name || ""),
          el("td", { class: "num" }, row.attempts),
          scoreCell(row.best, row.best_submission),
          scoreCell(row.latest, row.latest_submission),
          scoreCell(row.counted, null),
          el("td", { class: "num" }, row.late_days)
        )
      );
    }
    Staff.setText("roster-count", Staff.t("staff_roster_count", { shown: shown.length, total: state.rows.length }));
    for (const th of document.querySelectorAll("#roster thead th")) {
      const sorted = th.dataset.key === state.key;
      th.setAttribute("aria-sort", sorted ? (state.descending ? "descending" : "ascending") : "none");
    }
  }

  function sortBy(th) {
    if (state.key === th.dataset.key) {
      state.descending = !state.descending;
    } else {
      state.key = th.dataset.key;
      state.type = th.dataset.type;
      state.descending = th.dataset.type === "number"; // scores: highest first
    }
    render();
  }

  function init() {
    for (const th of document.querySelectorAll("#roster thead th")) {
      th.querySelector("button").addEventListener("click", () => sortBy(th));
    }
    document.getElementById("roster-filter").addEventListener("input", render);
    document.getElementById("roster-show").addEventListener("change", render);
  }

  function show(rows, passAt) {
    state.rows = rows;
    state.passAt = passAt;
    render();
  }

  return { init, show };
})();
