// The upload form: POST the chosen files with the token, then open the result page.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const A = window.Autograder;
  const form = document.getElementById("upload-form");
  const tokenInput = document.getElementById("token");
  const filesInput = document.getElementById("files");
  const button = document.getElementById("submit");
  tokenInput.value = A.loadToken();

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const token = tokenInput.value.trim();
    if (!token) {
      A.showStatus("Enter your API token. 请输入令牌。", true);
      return;
    }
    if (filesInput.files.length === 0) {
      A.showStatus("Choose the files to submit. 请选择要提交的文件。", true);
      return;
    }
    A.saveToken(token);
    const body = new FormData();
    for (const file of filesInput.files) body.append("files", file, file.name);
    button.disabled = true;
    A.showStatus("Uploading… 上传中…", false);
    try {
      const response = await fetch(form.dataset.api, {
        method: "POST",
        headers: { Authorization: "Bearer " + token },
        body: body,
      });
      if (response.status === 202) {
        const created = await response.json();
        window.location.assign("/submissions/" + encodeURIComponent(created.id));
        return;
      }
      A.showStatus(response.status + ": " + (await A.errorText(response)), true);
    } catch (err) {
      A.showStatus("Network error 网络错误: " + err, true);
    } finally {
      button.disabled = false;
    }
  });
});
