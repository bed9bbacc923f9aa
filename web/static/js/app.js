// Small progressive enhancements for every page: dismissible messages, confirmations, copy
// buttons. The site works without this file. (JSON API calls live in api.js.)

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
