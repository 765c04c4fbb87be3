// Small behaviours every page may use: confirm dialogs, the ledger import with a progress bar.

document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});

// Upload with a progress bar. The server keeps the file and redirects to its preview page; the
// form works without this script too (a plain submit), just without the bar.
document.querySelectorAll("form[data-upload-progress]").forEach((form) => {
  const bar = document.getElementById(form.dataset.uploadProgress);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open(form.method, form.action);
    bar.hidden = false;
    request.upload.addEventListener("progress", (progress) => {
      if (progress.lengthComputable) bar.value = Math.round((100 * progress.loaded) / progress.total);
    });
    request.upload.addEventListener("load", () => bar.removeAttribute("value")); // now the server reads it
    request.addEventListener("load", () => window.location.assign(request.responseURL));
    request.send(new FormData(form));
  });
});
