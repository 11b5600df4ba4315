// The declarations import page: run the check or the commit without leaving the page, and show the rows
// processed so far (polled from the server, which the running import writes) until it ends, then reload.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("declarations-job");
  if (!box) return;
  const bar = document.getElementById("declarations-progress");
  const text = document.getElementById("declarations-progress-text");
  const state = document.getElementById("declarations-state");
  const json = { Accept: "application/json" };

  // Ends when the phase asked for is done: a commit starts from the check's "done".
  function poll(phase) {
    fetch(box.dataset.progressUrl, { headers: json, credentials: "same-origin" })
      .then((r) => r.json())
      .then((p) => {
        bar.hidden = false;
        bar.max = Math.max(p.total, 1);
        bar.value = p.done;
        text.textContent = `${p.done} of ${p.total} rows`;
        state.textContent = p.state;
        if (p.phase === phase && (p.state === "done" || p.state === "failed")) window.location.reload();
        else setTimeout(() => poll(phase), 400);
      })
      .catch(() => setTimeout(() => poll(phase), 2000));
  }

  for (const form of box.ownerDocument.querySelectorAll("form.run-form")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      for (const button of form.querySelectorAll("button")) button.disabled = true;
      fetch(form.action, { method: "POST", body: new FormData(form), headers: json, credentials: "same-origin" });
      setTimeout(() => poll(form.elements.phase.value), 200);
    });
    if (form.dataset.autostart) form.requestSubmit();
  }
  if (box.dataset.state === "queued" || box.dataset.state === "running") poll(box.dataset.phase);
});
