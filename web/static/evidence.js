// 佐证材料 uploads with a progress bar (templates/_evidence.html, upload_control). A chosen file is sent at
// once; the server answers the new entry as HTML, drawn by the page's own macros, or a refusal's message,
// which is shown beside the control. Plain script, no build step: it is served as it is.

document.querySelectorAll("[data-evidence-upload]").forEach((control) => {
  const input = control.querySelector("input[type=file]");
  const bar = control.querySelector("progress");
  const status = control.querySelector(".upload-status");
  const refusal = control.querySelector(".upload-refusal");
  const into = document.getElementById(control.dataset.into);

  const refuse = (message) => {
    bar.hidden = true;
    status.textContent = "";
    refusal.textContent = message || control.dataset.failed;
    refusal.hidden = false;
    control.classList.add("invalid");
  };

  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    const data = new FormData();
    data.append("csrf_token", control.dataset.csrf);
    data.append("task_id", control.dataset.task);
    data.append("field", control.dataset.field);
    data.append("next", control.dataset.next);
    data.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", control.dataset.url);
    request.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    refusal.hidden = true;
    control.classList.remove("invalid");
    status.textContent = file.name;
    request.upload.addEventListener("progress", (progress) => {
      if (progress.lengthComputable) bar.value = Math.round((100 * progress.loaded) / progress.total);
    });
    request.addEventListener("load", () => {
      input.value = "";
      let answer = null;
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        answer = null; // a login page (the session ended) or a proxy's error page
      }
      if (request.status !== 201 || !answer) {
        refuse(answer && answer.message);
        return;
      }
      bar.value = 100;
      status.textContent = control.dataset.done + answer.name;
      // A task form's version check: this person's own upload is no change by someone else.
      const etag = control.closest("form")?.querySelector("input[name=etag]");
      if (etag && etag.value === answer.etag.from) etag.value = answer.etag.to;
      into.querySelector(".empty")?.remove();
      into.insertAdjacentHTML("beforeend", answer[control.dataset.insert]);
      // A new row's remove button asks first, as those drawn with the page do (pages.js).
      into.lastElementChild?.querySelectorAll("form[data-confirm]").forEach((form) => {
        form.addEventListener("submit", (event) => {
          if (!window.confirm(form.dataset.confirm)) event.preventDefault();
        });
      });
      into.closest("[hidden]")?.removeAttribute("hidden");
    });
    request.addEventListener("error", () => {
      input.value = "";
      refuse();
    });
    request.send(data);
  });
});
