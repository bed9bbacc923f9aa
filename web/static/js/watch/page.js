// What every part of the watch page shares: its configuration (from the template's JSON blocks),
// the translated strings in it, the stream's API address, and small DOM helpers. The chat and Q&A
// panel (_stream_chat.html) brings its own block, "chat-config", so that the go-live page, which
// has no "watch-config", runs chat.js, qa.js and audience.js on the same stream too.
// Chat text is untrusted: it only ever reaches the DOM through textContent.

function readBlock(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : {};
}

const chatBlock = readBlock("chat-config");
const pageBlock = readBlock("watch-config");
export const config = { ...chatBlock, ...pageBlock, t: { ...chatBlock.t, ...pageBlock.t } };
export const t = config.t;
export const api = `/api/streams/${config.stream}`;

export const $ = (id) => document.getElementById(id);

/** `text` with each {name} replaced by values[name]. */
export function format(text, values) {
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

/** Show `message` in an error line, or hide the line when it is empty. */
export function showError(element, message) {
  if (!element) return;
  element.textContent = message;
  element.hidden = !message;
}

/** The user-facing message for a failed API call (an ApiError from api.js). */
export function failureText(error) {
  if (error.status === 429) return format(t.tooFast, { seconds: error.retryAfter || "1" });
  if (error.code === "chat.muted") return t.muted;
  if (error.code === "chat.banned") return t.banned;
  return t.failed;
}

export { button } from "../dom.js";

/** The Chat / Q&A tabs: show the panel of the tab clicked. */
export function wireTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      for (const other of tabs) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        $(other.getAttribute("aria-controls")).hidden = !selected;
      }
    });
  }
}
