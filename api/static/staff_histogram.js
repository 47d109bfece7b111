// The score histogram as an SVG drawn with DOM calls (no markup strings): one bar per bin
// of API's histogram, an axis with the bins' lower edges, the count above each bar.
"use strict";

window.StaffHistogram = (function () {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 480;
  const HEIGHT = 220;
  const PAD = { left: 36, right: 8, top: 18, bottom: 34 };

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  // bins: [{low, high, count}], passAt: the pass threshold (a score).
  function draw(target, bins, passAt) {
    while (target.firstChild) target.removeChild(target.firstChild);
    target.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    const plotW = WIDTH - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const most = Math.max(1, ...bins.map((b) => b.count));
    const barW = plotW / Math.max(1, bins.length);
    const top = bins.length ? bins[bins.length - 1].high : 1;
    target.append(
      svg("line", { x1: PAD.left, y1: PAD.top + plotH, x2: WIDTH - PAD.right, y2: PAD.top + plotH, class: "axis" }),
      svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: PAD.top + plotH, class: "axis" }),
      svg("text", { x: PAD.left - 6, y: PAD.top + 4, class: "tick", "text-anchor": "end" }, most),
      svg("text", { x: PAD.left - 6, y: PAD.top + plotH, class: "tick", "text-anchor": "end" }, 0)
    );
    bins.forEach((bin, i) => {
      const h = (bin.count / most) * plotH;
      const x = PAD.left + i * barW;
      const passing = bin.low >= passAt - 1e-9;
      const bar = svg("rect", {
        x: x + 2,
        y: PAD.top + plotH - h,
        width: Math.max(1, barW - 4),
        height: h,
        class: passing ? "bar pass" : "bar",
        "data-count": bin.count,
      });
      bar.append(svg("title", {}, Staff.t("staff_bin", { low: bin.low, high: bin.high, count: bin.count })));
      target.append(bar);
      if (bin.count > 0) {
        target.append(svg("text", { x: x + barW / 2, y: PAD.top + plotH - h - 4, class: "count", "text-anchor": "middle" }, bin.count));
      }
      target.append(svg("text", { x: x, y: PAD.top + plotH + 14, class: "tick", "text-anchor": "middle" }, Staff.number(bin.low, 1)));
    });
    target.append(
      svg("text", { x: WIDTH - PAD.right, y: PAD.top + plotH + 14, class: "tick", "text-anchor": "end" }, Staff.number(top, 1)),
      svg("text", { x: PAD.left + plotW / 2, y: HEIGHT - 4, class: "label", "text-anchor": "middle" }, Staff.t("staff_counted_score"))
    );
    if (top > 0) {
      const px = PAD.left + (passAt / top) * plotW;
      target.append(svg("line", { x1: px, y1: PAD.top - 6, x2: px, y2: PAD.top + plotH, class: "pass-line" }));
      target.append(svg("text", { x: px + 3, y: PAD.top - 8, class: "tick" }, Staff.t("staff_pass")));
    }
  }

  return { draw };
})();
