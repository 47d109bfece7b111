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

  // Date inputs hold times in the course's zone (static/time.js), whatever the browser's.
  const toLocalInput = (iso) => window.CourseTime.toInput(iso);
  const fromLocalInput = (value) => window.CourseTime.fromInput(value);

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
        el("input", { type: "datetime-local", id: id("scores-at"), value: toLocalInput(release.scores_released_at), disabled: !canEdit, "aria-label": `scores released at (${window.CourseTime.label()})` }),
        el("small", { class: "zone" }, window.CourseTime.label())
      ),
      el("span", { class: "field" },
        el("label", { for: id("feedback") }, "Hidden checks"),
        select("feedback", [["deadline", "spec levels, switched at the deadline"], ["scheduled", "spec levels, switched at"]], release.feedback_mode),
        el("input", { type: "datetime-local", id: id("feedback-at"), value: toLocalInput(release.feedback_released_at), disabled: !canEdit, "aria-label": `feedback released at (${window.CourseTime.label()})` }),
        el("small", { class: "zone" }, window.CourseTime.label())
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

  const STATES = {
    draft: "draft: staff only",
    published: "published: students see it",
    withdrawn: "withdrawn: hidden from students, submissions kept",
  };

  // Publish / withdraw / reload from file: each asks first, then reloads the list (or
  // shows why it was refused: a version not checked by `autograder assignments publish`,
  // a file with mistakes, a live assignment's incomplete bundle).
  function actions(entry) {
    const slug = encodeURIComponent(entry.slug);
    const out = el("p", { class: "note", id: `state-${entry.slug}`, role: "status" });
    const act = (label, question, path, options) => {
      const button = el("button", { type: "button", "data-action": label }, label);
      button.addEventListener("click", async () => {
        if (!window.confirm(question)) return;
        try {
          await api(path, options);
          await load();
        } catch (err) {
          out.textContent = err.message;
          if (err.body && err.body.problems) out.append(problemList(err.body.problems));
        }
      });
      return button;
    };
    const buttons = el("p", { class: "actions" });
    if (entry.state === "published") {
      buttons.append(act("Withdraw", `Withdraw ${entry.slug}? Students will no longer see it nor submit; every submission is kept.`,
        `/api/v1/staff/assignments/${slug}/state`, { method: "PUT", json: { state: "withdrawn" } }));
    } else if (entry.state) {
      const publish = act("Publish", `Publish ${entry.slug}? Students will see it and may submit.`,
        `/api/v1/staff/assignments/${slug}/state`, { method: "PUT", json: { state: "published" } });
      if (!entry.publishable) {
        publish.disabled = true;
        publish.title = "This version has not passed the publish checks: run `autograder assignments publish DIR`";
      }
      buttons.append(publish);
    }
    if (entry.file && entry.file.state !== "same") {
      buttons.append(" ", act("Reload from file", `Make ${entry.file.path} the current version of ${entry.slug}?`,
        `/api/v1/staff/specs/${slug}/reload`, { method: "POST" }));
    }
    return el("div", { class: "state-actions" }, buttons, out);
  }

  async function entryBlock(entry) {
    const block = el(
      "article",
      { class: "spec", id: `spec-${entry.slug}`, "data-state": entry.state || "" },
      el("h3", {}, el("code", {}, entry.slug), " ", entry.title || "", " ",
        el("span", { class: entry.valid ? "badge valid" : "badge invalid" }, entry.valid ? "valid" : "invalid"),
        entry.state ? " " : "",
        entry.state ? el("span", { class: `badge state-${entry.state}`, title: STATES[entry.state] }, entry.state) : ""),
      el("p", { class: "note" }, fileState(entry.file), entry.reference_solution ? "" : " · no reference solution"),
      entry.current_hash
        ? el("p", { class: "note origin" }, "Current version ", el("code", { title: entry.current_hash }, entry.current_hash.slice(0, 12)),
          ` from ${entry.origin || "a file"}`, entry.publishable ? "" : " (not checked for publishing)")
        : ""
    );
    if (canEdit && (entry.state || entry.file)) block.append(actions(entry));
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
