// The import job page: a live progress bar, fed by the job's progress (GET /api/imports/{id}).
// When the job ends the page reloads to show the report. Without this file the page refreshes
// itself every few seconds (a <noscript> refresh) and shows the same.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const panel = document.querySelector("[data-import-job]");
  if (!panel) return;
  const bar = panel.querySelector("progress");
  const text = panel.querySelector("[data-progress-text]");
  const url = "/api/imports/" + encodeURIComponent(panel.dataset.importJob);
  const template = panel.dataset.progressTemplate || "";
  let failures = 0;

  function show(job) {
    if (job.totalRows) {
      bar.max = job.totalRows;
      bar.value = job.processedRows || 0;
      if (template) {
        text.textContent = template
          .replace("{done}", String(job.processedRows || 0))
          .replace("{total}", String(job.totalRows));
      }
    }
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const job = await response.json();
      failures = 0;
      show(job);
      if (job.status !== "queued" && job.status !== "running") {
        window.location.reload();
        return;
      }
    } catch (error) {
      failures += 1;
      if (failures > 5) {
        window.location.reload();
        return;
      }
    }
    window.setTimeout(poll, 700);
  }
  window.setTimeout(poll, 300);
});
