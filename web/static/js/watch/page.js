// What every part of the watch page shares: its configuration (from the template's JSON block),
// the translated strings in it, the stream's API address, and small DOM helpers.
// Chat text is untrusted: it only ever reaches the DOM through textContent.

export const config = JSON.parse(document.getElementById("watch-config").textContent);
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

export function button(label, onclick, className = "small") {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = label;
  element.addEventListener("click", onclick);
  return element;
}
