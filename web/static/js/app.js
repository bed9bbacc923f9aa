// Small progressive enhancements for every page. The site works without this file.

/** The CSRF token of this page, for scripts that call the JSON API with the session cookie. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

/** fetch() with the page's CSRF header and same-origin credentials. */
export function apiFetch(url, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("X-CSRF-Token", csrfToken());
  return fetch(url, { credentials: "same-origin", ...options, headers });
}

function enhanceMessages() {
  for (const message of document.querySelectorAll(".message[data-dismissible]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small dismiss";
    button.textContent = message.dataset.dismissLabel || "×";
    button.addEventListener("click", () => {
      message.hidden = true;
    });
    message.prepend(button);
  }
}

function enhanceConfirmations() {
  // Forms that destroy something ask first; the server does not depend on it.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

function enhanceCopyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const target = document.getElementById(button.dataset.copy);
    if (!target || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(target.textContent.trim());
      button.textContent = button.dataset.copiedLabel || button.textContent;
    });
  }
}

enhanceMessages();
enhanceConfirmations();
enhanceCopyButtons();
