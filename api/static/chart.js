// A small SVG line chart drawn with DOM APIs (no HTML parsing, no libraries): one or two
// series over the epochs, each on its own y scale (left: loss, right: accuracy).
"use strict";

window.AutograderChart = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 640, H = 260, PAD = { left: 56, right: 60, top: 34, bottom: 40 };

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function finite(value) {
    return typeof value === "number" && Number.isFinite(value);
  }

  // The y range of a series: its values with a margin (one value: a tenth of it either
  // side), never past the series' own bounds (a loss is never below 0, an accuracy lies in
  // 0-100%), so that one epoch does not draw a loss of -0.036 or an accuracy of 135%.
  function extent(values, bounds) {
    let lo = Math.min(...values), hi = Math.max(...values);
    if (lo === hi) {
      const pad = Math.abs(lo) * 0.1 || 0.5;
      lo -= pad; hi += pad;
    }
    const b = bounds || {};
    if (b.min !== undefined) lo = Math.max(lo, b.min);
    if (b.max !== undefined) hi = Math.min(hi, b.max);
    if (lo === hi) { lo = b.min !== undefined ? b.min : lo - 0.5; hi = b.max !== undefined ? b.max : hi + 0.5; }
    return [lo, hi];
  }

  function label(value, percent) {
    if (percent) return (value * 100).toFixed(1) + "%";
    const abs = Math.abs(value);
    return abs >= 100 ? value.toFixed(0) : abs >= 1 ? value.toFixed(2) : value.toFixed(3);
  }

  // points: [{epoch, loss, train_accuracy}], series: [{key, name, cls, side}]
  function lineChart(points, series, title) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "curve" });
    svg.append(el("title", {}, title));
    const xs = points.map((p) => p.epoch).filter(finite);
    if (xs.length === 0) return svg;
    const [x0, x1] = extent(xs, { min: 0 });
    const sx = (x) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
    svg.append(el("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: "axis" }));
    for (const x of [...new Set(xs)].slice(0, 20)) {
      svg.append(el("text", { x: sx(x), y: H - PAD.bottom + 16, class: "tick x" }, String(x)));
    }
    svg.append(el("text", { x: W / 2, y: H - 6, class: "axis-title" }, window.Autograder.t("epoch")));
    series.forEach(function (s) {
      const pts = points.filter((p) => finite(p.epoch) && finite(p[s.key]));
      if (pts.length === 0) return;
      const [y0, y1] = extent(pts.map((p) => p[s.key]), s.bounds);
      const sy = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
      const ax = s.side === "right" ? W - PAD.right : PAD.left;
      svg.append(el("line", { x1: ax, y1: PAD.top, x2: ax, y2: H - PAD.bottom, class: "axis " + s.cls }));
      const anchor = s.side === "right" ? "start" : "end";
      const dx = s.side === "right" ? 6 : -6;
      for (const v of [y0, (y0 + y1) / 2, y1]) {
        svg.append(el("text", { x: ax + dx, y: sy(v) + 4, "text-anchor": anchor, class: "tick " + s.cls }, label(v, s.percent)));
      }
      const d = pts.map((p, i) => (i ? "L" : "M") + sx(p.epoch).toFixed(1) + "," + sy(p[s.key]).toFixed(1)).join(" ");
      svg.append(el("path", { d: d, class: "series " + s.cls }));
      for (const p of pts) {
        const dot = el("circle", { cx: sx(p.epoch), cy: sy(p[s.key]), r: 3, class: "dot " + s.cls });
        dot.append(el("title", {}, s.name + " @ " + p.epoch + ": " + label(p[s.key], s.percent)));
        svg.append(dot);
      }
    });
    const legend = el("g", { class: "legend" });
    series.forEach(function (s, i) {
      const x = PAD.left + 8 + i * 170;
      legend.append(el("line", { x1: x, y1: 12, x2: x + 18, y2: 12, class: "series " + s.cls }));
      legend.append(el("text", { x: x + 24, y: 16 }, s.name));
    });
    svg.append(legend);
    return svg;
  }

  // Every metric a training phase may log (worker/artifacts.py METRIC_KEYS), in the order
  // the chart prefers them; it draws the first two the epochs carry, one per side.
  const METRICS = [
    { key: "loss", cls: "loss", bounds: { min: 0 } },
    { key: "train_accuracy", cls: "accuracy", percent: true, bounds: { min: 0, max: 1 } },
    { key: "test_accuracy", cls: "accuracy", percent: true, bounds: { min: 0, max: 1 } },
    { key: "d_loss", cls: "loss", bounds: { min: 0 } },
    { key: "g_loss", cls: "accuracy", bounds: { min: 0 } },
    { key: "recon_loss", cls: "loss", bounds: { min: 0 } },
    { key: "l1", cls: "accuracy", bounds: { min: 0 } },
  ];

  function trainingChart(points, title) {
    const t = window.Autograder.t;
    const present = METRICS.filter((m) => points.some((p) => finite(p[m.key]))).slice(0, 2);
    return lineChart(points, present.map((m, i) => Object.assign({}, m, {
      name: t(m.key), side: i === 0 ? "left" : "right",
    })), title);
  }

  return { lineChart, trainingChart };
})();
