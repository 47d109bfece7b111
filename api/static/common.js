// Shared by the pages: the message catalogue of the page's language, the session's CSRF
// token, calling the JSON API, and reading its errors. Everything shown to the user goes
// through textContent, never parsed as HTML.
"use strict";

window.Autograder = (function () {
  const body = document.body;
  let messages = {};
  try {
    messages = JSON.parse(body.dataset.messages || "{}");
  } catch (err) {
    messages = {};
  }

  // A message by key, with {name} placeholders filled in.
  function t(key, values) {
    let text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  // fetch() on this site with the session cookie; changes carry the CSRF token.
  function api(url, options) {
    const opts = Object.assign({ credentials: "same-origin", cache: "no-store" }, options || {});
    const method = (opts.method || "GET").toUpperCase();
    const headers = new Headers(opts.headers || {});
    headers.set("Accept", "application/json");
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) {
      headers.set("X-CSRF-Token", body.dataset.csrf || "");
    }
    opts.headers = headers;
    return fetch(url, opts);
  }

  async function errorText(response) {
    try {
      const data = await response.json();
      const language = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
      if (data.messages && data.messages[language]) return data.messages[language];
      if (typeof data.detail === "string") return data.detail;
      return JSON.stringify(data.detail);
    } catch (err) {
      return response.statusText || t("request_failed");
    }
  }

  function setText(id, text) {
    const node = document.getElementById(id);
    if (node) node.textContent = text;
  }

  function showStatus(text, isError) {
    const node = document.getElementById("status");
    node.textContent = text;
    node.classList.toggle("error", Boolean(isError));
  }

  function number(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    const factor = Math.pow(10, digits === undefined ? 2 : digits);
    return String(Math.round(value * factor) / factor);
  }

  function when(iso) {
    return window.CourseTime.when(iso); // the course's time zone, as the server writes it
  }

  return { t, api, errorText, setText, showStatus, number, when };
})();
