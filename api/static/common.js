// Shared by the pages: the token kept in sessionStorage, and reading API errors.
// Everything shown to the user goes through textContent, never parsed as HTML.
"use strict";

window.Autograder = (function () {
  const TOKEN_KEY = "autograder.token";

  function loadToken() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (err) {
      return "";
    }
  }

  function saveToken(token) {
    try {
      window.sessionStorage.setItem(TOKEN_KEY, token);
    } catch (err) {
      // storage disabled: the token is used for this request only
    }
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (typeof body.detail === "string") return body.detail;
      return JSON.stringify(body.detail);
    } catch (err) {
      return response.statusText || "request failed";
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

  return { loadToken, saveToken, errorText, setText, showStatus };
})();
