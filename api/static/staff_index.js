// The staff dashboard: every open assignment with its submission counts.
"use strict";

(async function () {
  const { api, el } = Staff;
  try {
    const rows = await api("/api/v1/staff/assignments");
    const body = Staff.clear(document.getElementById("assignments"));
    for (const a of rows) {
      const c = a.counts;
      body.append(
        el(
          "tr",
          { "data-slug": a.slug },
          el("td", {}, el("a", { href: `/staff/assignments/${encodeURIComponent(a.slug)}` }, el("code", {}, a.slug)), " ", a.title,
            ...(a.state === "published" ? [] : [" ", el("span", { class: `badge state-${a.state}` }, a.state)])),
          el("td", { class: "when" }, Staff.when(a.deadline)),
          el("td", { class: "num" }, c.submitted),
          el("td", { class: "num" }, c.students),
          el("td", { class: "num" }, c.graded),
          el("td", { class: "num" }, c.failed),
          el("td", { class: "num" }, c.late),
          el("td", { class: "num" }, c.pending),
          el("td", {}, a.open_regrade === null ? "" : `#${a.open_regrade} open`)
        )
      );
    }
    Staff.status(rows.length ? "" : "No open assignments.");
  } catch (err) {
    Staff.status(err.message, true);
  }
})();
