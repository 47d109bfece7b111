// Specs and releases: every assignment's spec versions and validation, the file in
// grading_specs/, an upload (every problem listed with its file, line and key), and
// when scores and hidden-check feedback reach students (instructors only change them).
"use strict";

(function () {
  const { api, el } = Staff;
  const canEdit = document.getElementById("page").dataset.canEdit === "true";

  function problemList(problems) {
    return el(
      "ul",
      { class: "problems" },
      ...problems.map((p) =>
        el(
          "li",
          { "data-line": p.line === null ? "" : p.line, "data-code": p.code },
          el("code", { class: "where" }, p.line ? `${p.file}:${p.line}` : p.file),
          p.key_path ? " " : "",
          p.key_path ? el("code", { class: "key" }, p.key_path) : "",
          ": ",
          p.message
        )
      )
    );
  }

  function fileState(file) {
    if (!file) return "no file in grading_specs/ (uploaded only)";
    return {
      same: "the file in grading_specs/ is the current version",
      differs: "the file in grading_specs/ differs from the current version",
      invalid: "the file in grading_specs/ is invalid",
    }[file.state] || "the file in grading_specs/ is invalid and was never loaded";
  }

  function versionsTable(entry) {
    return el(
      "table",
      { class: "versions compact" },
      el("thead", {}, el("tr", {}, el("th", {}, "Version"), el("th", {}, "Loaded"), el("th", {}, "From"), el("th", {}, "Valid today"), el("th", {}, ""))),
      el(
        "tbody",
        {},
        ...entry.versions.map((v) =>
          el(
            "tr",
            { class: v.current ? "current" : "" },
            el("td", {}, el("code", { title: v.spec_hash }, v.spec_hash.slice(0, 12))),
            el("td", {}, Staff.when(v.loaded_at)),
            el("td", {}, v.origin === "upload" ? `upload (${Staff.when(v.uploaded_at)})` : "file"),
            el("td", { class: v.problems.length ? "fail" : "pass" }, v.problems.length ? `${v.problems.length} problem(s)` : "valid"),
            el("td", {}, v.current ? el("strong", {}, "current") : "")
          )
        )
      )
    );
  }

  function toLocalInput(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function fromLocalInput(value) {
    return value ? new Date(value).toISOString() : null;
  }

  function releaseForm(slug, release) {
    const id = (name) => `release-${slug}-${name}`;
    const select = (name, options, value) =>
      el("select", { id: id(name), disabled: !canEdit }, ...options.map(([v, text]) => el("option", { value: v, selected: v === value }, text)));
    const form = el(
      "form",
      { class: "release", "data-slug": slug },
      el("span", { class: "field" },
        el("label", { for: id("scores") }, "Scores"),
        select("scores", [["immediate", "shown as soon as graded"], ["scheduled", "withheld until"]], release.scores_mode),
        el("input", { type: "datetime-local", id: id("scores-at"), value: toLocalInput(release.scores_released_at), disabled: !canEdit, "aria-label": "scores released at" })
      ),
      el("span", { class: "field" },
        el("label", { for: id("feedback") }, "Hidden checks"),
        select("feedback", [["deadline", "spec levels, switched at the deadline"], ["scheduled", "spec levels, switched at"]], release.feedback_mode),
        el("input", { type: "datetime-local", id: id("feedback-at"), value: toLocalInput(release.feedback_released_at), disabled: !canEdit, "aria-label": "feedback released at" })
      )
    );
    const now = el("p", { class: "note", id: id("now") }, `Now students see scores: ${release.scores_visible_now ? "yes" : "no"}; hidden checks: ${release.feedback_level_now}.`);
    if (canEdit) {
      form.append(el("button", { type: "submit" }, "Save"));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const saved = await api(`/api/v1/staff/assignments/${encodeURIComponent(slug)}/release`, {
            method: "PUT",
            json: {
              scores_mode: form.querySelector(`#${CSS.escape(id("scores"))}`).value,
              scores_released_at: fromLocalInput(form.querySelector(`#${CSS.escape(id("scores-at"))}`).value),
              feedback_mode: form.querySelector(`#${CSS.escape(id("feedback"))}`).value,
              feedback_released_at: fromLocalInput(form.querySelector(`#${CSS.escape(id("feedback-at"))}`).value),
            },
          });
          Staff.setText(id("now"), `Saved. Now students see scores: ${saved.scores_visible_now ? "yes" : "no"}; hidden checks: ${saved.feedback_level_now}.`);
        } catch (err) {
          Staff.setText(id("now"), err.message);
        }
      });
    }
    return el("div", { class: "release-box" }, form, now);
  }

  async function entryBlock(entry) {
    const block = el(
      "article",
      { class: "spec", id: `spec-${entry.slug}` },
      el("h3", {}, el("code", {}, entry.slug), " ", entry.title || "", " ",
        el("span", { class: entry.valid ? "badge valid" : "badge invalid" }, entry.valid ? "valid" : "invalid")),
      el("p", { class: "note" }, fileState(entry.file), entry.reference_solution ? "" : " · no reference solution")
    );
    if (entry.problems.length) block.append(problemList(entry.problems));
    else if (entry.file && entry.file.problems.length) block.append(problemList(entry.file.problems));
    if (entry.versions.length) {
      const current = entry.current_hash ? entry.current_hash.slice(0, 12) : "—";
      block.append(
        el("details", { class: "versions" },
          el("summary", {}, `${entry.versions.length} version(s); current ${current}`),
          versionsTable(entry))
      );
      try {
        block.append(releaseForm(entry.slug, await api(`/api/v1/staff/assignments/${encodeURIComponent(entry.slug)}/release`)));
      } catch (err) {
        block.append(el("p", { class: "note" }, `release settings: ${err.message}`));
      }
    }
    return block;
  }

  async function load() {
    try {
      const entries = await api("/api/v1/staff/specs");
      const blocks = await Promise.all(entries.map(entryBlock));
      Staff.clear(document.getElementById("specs")).append(...blocks);
      Staff.status("");
    } catch (err) {
      Staff.status(err.message, true);
    }
  }

  const form = document.getElementById("spec-upload");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = document.getElementById("upload-status");
      const problems = Staff.clear(document.getElementById("spec-problems"));
      const data = new FormData();
      data.append("file", document.getElementById("spec-file").files[0]);
      const slug = document.getElementById("spec-slug").value.trim();
      if (slug) data.append("slug", slug);
      status.classList.remove("error");
      status.textContent = "Checking…";
      try {
        const done = await api("/api/v1/staff/specs", { method: "POST", body: data });
        await load(); // the list shows the new version before the status says so
        status.textContent = done.changed
          ? `${done.slug}: version ${done.spec_hash.slice(0, 12)} is now current.`
          : `${done.slug}: this version was already current.`;
        for (const warning of done.warnings) problems.append(el("li", { class: "warning" }, warning));
      } catch (err) {
        status.classList.add("error");
        status.textContent = err.message;
        if (err.body && Array.isArray(err.body.problems)) {
          for (const li of problemList(err.body.problems).children) problems.append(li.cloneNode(true));
        }
      }
    });
  }
  load();
})();
