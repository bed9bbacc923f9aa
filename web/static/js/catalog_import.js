// The catalogue import page while an import runs: polls its status route and shows the rows done
// so far; when the import ends, reloads the page, which the server renders with the result.

import { fetchJson } from "./api.js";

const POLL_MS = 500;

function show(section, status) {
  const phase = document.getElementById("import-phase");
  if (phase) phase.textContent = phase.dataset[status.status === "writing" ? "writing" : "checking"];
  const bar = document.getElementById("import-progress");
  const count = document.getElementById("import-count");
  if (bar && status.rows_total) {
    bar.max = status.rows_total;
    bar.value = status.rows_done;
  }
  if (count && status.rows_total) {
    count.textContent = count.dataset.template
      .replace("{done}", status.rows_done.toLocaleString())
      .replace("{total}", status.rows_total.toLocaleString());
  }
  section.dataset.status = status.status;
}

async function poll(section) {
  for (;;) {
    try {
      const status = await fetchJson(section.dataset.statusUrl);
      if (status.status === "done" || status.status === "failed") {
        window.location.reload();
        return;
      }
      show(section, status);
    } catch {
      // A lost answer is asked again on the next round.
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const section = document.getElementById("catalog-import");
if (section) poll(section);
