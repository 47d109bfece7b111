// Specs and releases: every assignment's spec versions and validation, the file in
// grading_specs/, an upload (every problem listed with its file, line and key), and
// when scores and hidden-check feedback reach students (instructors only change them).
"use strict";

(function () {
  const { api, el, t, named } = Staff;
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
    if (!file) return t("staff_file_none");
    return {
      same: t("staff_file_same"),
      differs: t("staff_file_differs"),
      invalid: t("staff_file_invalid"),
    }[file.state] || t("staff_file_never_loaded");
  }

  function versionsTable(entry) {
    return el(
      "table",
      { class: "versions compact" },
      el("thead", {}, el("tr", {}, el("th", {}, t("staff_col_version")), el("th", {}, t("staff_col_loaded")), el("th", {}, t("staff_col_from")),
        el("th", {}, t("staff_col_valid_today")), el("th", {}, ""))),
      el(
        "tbody",
        {},
        ...entry.versions.map((v) =>
          el(
            "tr",
            { class: v.current ? "current" : "" },
            el("td", {}, el("code", { title: v.spec_hash }, v.spec_hash.slice(0, 12))),
            el("td", {}, Staff.when(v.loaded_at)),
            el("td", {}, v.origin === "upload" ? t("staff_from_upload", { when: Staff.when(v.uploaded_at) }) : t("staff_from_file")),
            el("td", { class: v.problems.length ? "fail" : "pass" }, v.problems.length ? t("staff_problems", { n: v.problems.length }) : t("staff_valid")),
            el("td", {}, v.current ? el("strong", {}, t("staff_current")) : "")
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
        el("label", { for: id("scores") }, t("staff_scores")),
        select("scores", [["immediate", t("staff_scores_immediate")], ["scheduled", t("staff_scores_scheduled")]], release.scores_mode),
        el("input", { type: "datetime-local", id: id("scores-at"), value: toLocalInput(release.scores_released_at), disabled: !canEdit, "aria-label": t("staff_scores_at", { zone: window.CourseTime.label() }) }),
        el("small", { class: "zone" }, window.CourseTime.label())
      ),
      el("span", { class: "field" },
        el("label", { for: id("feedback") }, t("staff_hidden_checks")),
        select("feedback", [["deadline", t("staff_feedback_deadline")], ["scheduled", t("staff_feedback_scheduled")]], release.feedback_mode),
        el("input", { type: "datetime-local", id: id("feedback-at"), value: toLocalInput(release.feedback_released_at), disabled: !canEdit, "aria-label": t("staff_feedback_at", { zone: window.CourseTime.label() }) }),
        el("small", { class: "zone" }, window.CourseTime.label())
      )
    );
    const visible = (key, r) =>
      t(key, { scores: r.scores_visible_now ? t("staff_yes") : t("no"), level: named("staff_level_", r.feedback_level_now) });
    const now = el("p", { class: "note", id: id("now") }, visible("staff_now_visible", release));
    if (canEdit) {
      form.append(el("button", { type: "submit" }, t("staff_save")));
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
          Staff.setText(id("now"), visible("staff_saved_visible", saved));
        } catch (err) {
          Staff.setText(id("now"), err.message);
        }
      });
    }
    return el("div", { class: "release-box" }, form, now);
  }

  const STATES = {
    draft: t("staff_state_title_draft"),
    published: t("staff_state_title_published"),
    withdrawn: t("staff_state_title_withdrawn"),
  };

  // Publish / withdraw / reload from file: each asks first, then reloads the list (or
  // shows why it was refused: a version not checked by `autograder assignments publish`,
  // a file with mistakes, a live assignment's incomplete bundle).
  function actions(entry) {
    const slug = encodeURIComponent(entry.slug);
    const out = el("p", { class: "note", id: `state-${entry.slug}`, role: "status" });
    const act = (action, label, question, path, options) => {
      const button = el("button", { type: "button", "data-action": action }, label);
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
      buttons.append(act("Withdraw", t("staff_withdraw"), t("staff_confirm_withdraw", { slug: entry.slug }),
        `/api/v1/staff/assignments/${slug}/state`, { method: "PUT", json: { state: "withdrawn" } }));
    } else if (entry.state) {
      const publish = act("Publish", t("staff_publish"), t("staff_confirm_publish", { slug: entry.slug }),
        `/api/v1/staff/assignments/${slug}/state`, { method: "PUT", json: { state: "published" } });
      if (!entry.publishable) {
        publish.disabled = true;
        publish.title = t("staff_not_publishable");
      }
      buttons.append(publish);
    }
    if (entry.file && entry.file.state !== "same") {
      buttons.append(" ", act("Reload from file", t("staff_reload"), t("staff_confirm_reload", { path: entry.file.path, slug: entry.slug }),
        `/api/v1/staff/specs/${slug}/reload`, { method: "POST" }));
    }
    return el("div", { class: "state-actions" }, buttons, out);
  }

  async function entryBlock(entry) {
    const block = el(
      "article",
      { class: "spec", id: `spec-${entry.slug}`, "data-state": entry.state || "" },
      el("h3", {}, el("code", {}, entry.slug), " ", entry.title || "", " ",
        el("span", { class: entry.valid ? "badge valid" : "badge invalid" }, entry.valid ? t("staff_valid") : t("staff_invalid")),
        entry.state ? " " : "",
        entry.state ? el("span", { class: `badge state-${entry.state}`, title: STATES[entry.state] }, named("staff_state_", entry.state)) : ""),
      el("p", { class: "note" }, fileState(entry.file), entry.reference_solution ? "" : t("staff_no_reference")),
      entry.current_hash
        ? el("p", { class: "note origin" }, t("staff_current_version"), " ", el("code", { title: entry.current_hash }, entry.current_hash.slice(0, 12)),
          (Staff.chinese ? "" : " ") + t("staff_from_origin", { origin: entry.origin || t("staff_origin_unknown") }),
          entry.publishable ? "" : (Staff.chinese ? "" : " ") + t("staff_not_checked"))
        : ""
    );
    if (canEdit && (entry.state || entry.file)) block.append(actions(entry));
    if (entry.problems.length) block.append(problemList(entry.problems));
    else if (entry.file && entry.file.problems.length) block.append(problemList(entry.file.problems));
    if (entry.versions.length) {
      const current = entry.current_hash ? entry.current_hash.slice(0, 12) : "—";
      block.append(
        el("details", { class: "versions" },
          el("summary", {}, t("staff_versions", { n: entry.versions.length, hash: current })),
          versionsTable(entry))
      );
      try {
        block.append(releaseForm(entry.slug, await api(`/api/v1/staff/assignments/${encodeURIComponent(entry.slug)}/release`)));
      } catch (err) {
        block.append(el("p", { class: "note" }, t("staff_release_error", { error: err.message })));
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
      status.textContent = t("staff_checking");
      try {
        const done = await api("/api/v1/staff/specs", { method: "POST", body: data });
        await load(); // the list shows the new version before the status says so
        status.textContent = done.changed
          ? t("staff_now_current", { slug: done.slug, hash: done.spec_hash.slice(0, 12) })
          : t("staff_already_current", { slug: done.slug });
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
