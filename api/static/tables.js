// On a narrow screen, tables become stacked rows (app.css, @media max-width 40rem): each
// cell shows its column's heading before it, from a data-label set here from the table's
// <thead>, for rows written by the page and rows added later by a script alike.
"use strict";
(function () {
  function label(table) {
    const heads = table.tHead ? Array.from(table.tHead.rows[0]?.cells || []) : [];
    if (!heads.length) return;
    const names = [];
    for (const th of heads) {
      const name = th.textContent.replace(/\s+/g, " ").trim();
      for (let i = 0; i < (th.colSpan || 1); i += 1) names.push(name);
    }
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let column = 0;
        for (const cell of row.cells) {
          if (cell.colSpan === 1 && names[column] && cell.dataset.label !== names[column]) {
            cell.dataset.label = names[column];
          }
          column += cell.colSpan || 1;
        }
      }
    }
  }

  function labelAll() {
    document.querySelectorAll("main table").forEach(label);
  }

  document.addEventListener("DOMContentLoaded", () => {
    labelAll();
    let pending = false;
    new MutationObserver(() => {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(() => {
        pending = false;
        labelAll();
      });
    }).observe(document.querySelector("main") || document.body, { childList: true, subtree: true });
  });
})();
