// Adds the viewer's own time to agenda times laid out in the expo's timezone.
// Each <time datetime="...Z" data-local data-tz="Area/City"> gets "(your time: ...)" when the
// browser's timezone differs from the expo's; the page stays complete without this script.

const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  weekday: "short",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});

for (const el of document.querySelectorAll("time[data-local]")) {
  if (!el.dateTime || el.dataset.tz === viewerZone) continue;
  const when = new Date(el.dateTime);
  if (Number.isNaN(when.getTime())) continue;
  const note = document.createElement("span");
  note.className = "local-time";
  note.textContent = ` (${el.dataset.localLabel || "your time"}: ${format.format(when)})`;
  el.after(note);
}
