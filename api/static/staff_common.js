// Shared by the staff pages: calling the staff API with the session cookie (and the CSRF
// token on changes), building DOM nodes, formatting numbers and dates. Data from the API
// only ever reaches the page as text nodes or attribute values, never as HTML.
"use strict";

window.Staff = (function () {
  function csrfToken() {
    return document.body.dataset.csrf || "";
  }

  async function detailOf(response) {
    try {
      const data = await response.json();
      if (typeof data.detail === "string") return data.detail;
      if (Array.isArray(data.detail)) {
        // FastAPI's validation errors: their messages, without pydantic's "Value error, "
        return data.detail.map((e) => String(e.msg || "").replace(/^Value error, /, "")).join("; ");
      }
      return JSON.stringify(data.detail);
    } catch (err) {
      return response.statusText || "request failed";
    }
  }

  // fetch() a JSON endpoint; resolves to the parsed body, rejects with an Error whose
  // message is the API's detail (and .status, .body for callers that want them).
  async function api(url, options) {
    const opts = Object.assign({ credentials: "same-origin", cache: "no-store" }, options || {});
    const method = (opts.method || "GET").toUpperCase();
    const headers = new Headers(opts.headers || {});
    headers.set("Accept", "application/json");
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers.set("X-CSRF-Token", csrfToken());
    if (opts.json !== undefined) {
      headers.set("Content-Type", "application/json");
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    opts.headers = headers;
    const response = await fetch(url, opts);
    if (response.ok) return response.status === 204 ? null : response.json();
    const clone = response.clone();
    const error = new Error(await detailOf(response));
    error.status = response.status;
    try {
      error.body = await clone.json();
    } catch (err) {
      error.body = null;
    }
    throw error;
  }

  // el("td", {class: "num"}, "text", childNode, ...): a new element with attributes and
  // children; strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function number(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    const factor = Math.pow(10, digits === undefined ? 2 : digits);
    return String(Math.round(value * factor) / factor);
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : number(value * 100, 1) + "%";
  }

  function when(iso) {
    return window.CourseTime.when(iso); // the course's time zone, as the server writes it
  }

  function setText(id, text) {
    const node = document.getElementById(id);
    if (node) node.textContent = text;
  }

  function status(text, isError) {
    const node = document.getElementById("status");
    if (!node) return;
    node.textContent = text;
    node.classList.toggle("error", Boolean(isError));
  }

  return { api, el, clear, number, percent, when, setText, status };
})();
