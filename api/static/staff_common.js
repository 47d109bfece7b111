// Shared by the staff pages: the message catalogue of the page's language (the js.staff_*
// keys of api/messages.json, handed over in <body data-messages>), calling the staff API
// with the session cookie (and the CSRF token on changes), building DOM nodes, formatting
// numbers and dates. Data from the API only ever reaches the page as text nodes or
// attribute values, never as HTML.
"use strict";

window.Staff = (function () {
  let messages = {};
  try {
    messages = JSON.parse(document.body.dataset.messages || "{}");
  } catch (err) {
    messages = {};
  }
  const chinese = document.documentElement.lang.startsWith("zh");
  const language = chinese ? "zh" : "en";

  // A message by key (without "js."), with {name} placeholders filled in.
  function t(key, values) {
    let text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  // A value the API names in English (a state, a level): in Chinese, its translation
  // under prefix + value where the catalogue has one; in English, the value itself.
  function named(prefix, value) {
    const key = prefix + value;
    return Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : String(value);
  }

  // A text in the page's language where there is a Chinese one (else English).
  function inLanguage(english, zh) {
    return (chinese && zh) || english || "";
  }

  // The spec's hint in Chinese in place of the English one that ends a message.
  function withHint(message, hintZh) {
    const at = message.lastIndexOf("\nHint: ");
    return chinese && hintZh && at >= 0 ? message.slice(0, at) + "\n提示：" + hintZh : message;
  }

  function csrfToken() {
    return document.body.dataset.csrf || "";
  }

  async function detailOf(response) {
    try {
      const data = await response.json();
      if (data.messages && data.messages[language]) return data.messages[language];
      if (typeof data.detail === "string") return data.detail;
      if (Array.isArray(data.detail)) {
        // FastAPI's validation errors: their messages, without pydantic's "Value error, "
        return data.detail.map((e) => String(e.msg || "").replace(/^Value error, /, "")).join("; ");
      }
      return JSON.stringify(data.detail);
    } catch (err) {
      return response.statusText || t("request_failed");
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

  return { t, named, chinese, inLanguage, withHint, api, el, clear, number, percent, when, setText, status };
})();
