// The upload form: collect files from the file picker or dropped on the drop zone (several
// at once, a later file of the same name replaces the earlier), show which required files
// are present, POST them with the session's CSRF token, then open the result page.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const A = window.Autograder;
  const t = A.t;
  const form = document.getElementById("upload-form");
  const input = document.getElementById("files");
  const zone = document.getElementById("drop-zone");
  const list = document.getElementById("chosen-files");
  const button = document.getElementById("submit");
  const chosen = new Map(); // name -> File

  function baseName(name) {
    const parts = String(name).split(/[\\/]/);
    return parts[parts.length - 1];
  }

  function size(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1) + " MiB";
    if (bytes >= 1024) return (bytes / 1024).toFixed(1) + " KiB";
    return bytes + " B";
  }

  function add(files) {
    for (const file of files) chosen.set(baseName(file.name), file);
    render();
    A.showStatus(oversize(), true);
  }

  // A notebook (name.ipynb) stands for a required module (name.py): its code cells are
  // graded, and it may be larger than the module (the server reads it within 50 times).
  const NOTEBOOK_FACTOR = 50;
  function chosenFor(name) {
    if (chosen.has(name)) return { file: chosen.get(name), factor: 1 };
    if (name.endsWith(".py")) {
      const notebook = chosen.get(name.slice(0, -3) + ".ipynb");
      if (notebook) return { file: notebook, factor: NOTEBOOK_FACTOR };
    }
    return { file: undefined, factor: 1 };
  }

  function render() {
    const items = [];
    for (const [name, file] of chosen) {
      const li = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = name;
      const info = document.createElement("span");
      info.textContent = " (" + size(file.size) + ") ";
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link remove";
      remove.textContent = t("remove");
      remove.addEventListener("click", function () {
        chosen.delete(name);
        render();
      });
      li.append(code, info, remove);
      items.push(li);
    }
    list.replaceChildren(...items);
    for (const row of document.querySelectorAll("table.files tr[data-file]")) {
      const { file, factor } = chosenFor(row.dataset.file);
      const td = row.querySelector("td.chosen");
      const limit = Number(row.dataset.maxBytes) * factor;
      const over = Boolean(file) && limit > 0 && file.size > limit;
      td.textContent = !file ? "—" : over
        ? "✗ " + t("too_large_short", { size: size(file.size), limit: size(limit) })
        : "✓ " + size(file.size);
      td.classList.toggle("pass", Boolean(file) && !over);
      td.classList.toggle("fail", over);
    }
  }

  // A chosen file over its limit, said before anything is sent (the server refuses it too).
  function oversize() {
    for (const row of document.querySelectorAll("table.files tr[data-file]")) {
      const { file, factor } = chosenFor(row.dataset.file);
      const limit = Number(row.dataset.maxBytes) * factor;
      if (file && limit > 0 && file.size > limit) {
        return t("too_large", { name: row.dataset.file, size: size(file.size), limit: size(limit) });
      }
    }
    return "";
  }

  input.addEventListener("change", function () {
    add(input.files);
    input.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  // The drop zone is focusable: Enter or Space opens the file picker, as a click does.
  zone.addEventListener("click", function (event) {
    if (event.target === input || event.target.closest("label")) return; // opens it already
    input.click();
  });
  zone.addEventListener("keydown", function (event) {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      input.click();
    }
  });
  zone.addEventListener("dragleave", function () {
    zone.classList.remove("over");
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files) add(event.dataTransfer.files);
  });
  document.getElementById("clear").addEventListener("click", function () {
    chosen.clear();
    render();
    A.showStatus("", false);
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (chosen.size === 0) {
      A.showStatus(t("choose_files"), true);
      return;
    }
    const tooLarge = oversize();
    if (tooLarge) {
      A.showStatus(tooLarge, true);
      return;
    }
    const body = new FormData();
    for (const [name, file] of chosen) body.append("files", file, name);
    button.disabled = true;
    A.showStatus(t("uploading"), false);
    try {
      const response = await A.api(form.dataset.api, { method: "POST", body: body });
      if (response.status === 202) {
        const created = await response.json();
        window.location.assign("/submissions/" + encodeURIComponent(created.id));
        return;
      }
      A.showStatus(response.status + ": " + (await A.errorText(response)), true);
    } catch (err) {
      A.showStatus(t("network_error") + " " + err, true);
    } finally {
      button.disabled = false;
    }
  });
});
