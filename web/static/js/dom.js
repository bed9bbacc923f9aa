// Small DOM helpers shared by the pages' scripts (the room's tiles and host control, the watch
// page's chat and Q&A). Text is set through textContent only: names and messages are untrusted.

/** A `<button type="button">` showing `text` that calls `onclick`. */
export function button(text, onclick, className = "small") {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  element.addEventListener("click", onclick);
  return element;
}
