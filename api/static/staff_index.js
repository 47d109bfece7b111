// The staff dashboard: every open assignment with its submission counts.
"use strict";

(async function () {
  const { api, el, t, named } = Staff;
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
            ...(a.state === "published" ? [] : [" ", el("span", { class: `badge state-${a.state}` }, named("staff_state_", a.state))])),
          el("td", { class: "when" }, Staff.when(a.deadline)),
          el("td", { class: "num" }, c.submitted),
          el("td", { class: "num" }, c.students),
          el("td", { class: "num" }, c.graded),
          el("td", { class: "num" }, c.failed),
          el("td", { class: "num" }, c.late),
          el("td", { class: "num" }, c.pending),
          el("td", {}, a.open_regrade === null ? "" : t("staff_regrade_open", { id: a.open_regrade }))
        )
      );
    }
    Staff.status(rows.length ? "" : t("staff_no_assignments"));
  } catch (err) {
    Staff.status(err.message, true);
  }
})();
