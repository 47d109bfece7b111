// A form with data-confirm asks before it is sent (a revoke, say): no inline script here,
// the Content-Security-Policy allows only the service's own files.
"use strict";
document.addEventListener(
  "submit",
  (event) => {
    const message = event.target.dataset ? event.target.dataset.confirm : undefined;
    if (message && !window.confirm(message)) event.preventDefault();
  },
  true,
);
