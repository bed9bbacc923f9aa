// The booth page's slot picker: lists the booth's free slots (GET /api/booths/{id}/slots) as
// radio buttons grouped by day, in the expo's timezone, each with the visitor's own time when their
// browser's timezone differs. The form itself posts to the server, which re-checks everything.

import { fetchJson } from "./api.js";

const form = document.querySelector("form[data-slots]");

function formatter(zone, options) {
  return new Intl.DateTimeFormat(form.dataset.locale || undefined, { timeZone: zone, ...options });
}

// The slot's start as the server expects it back: the expo's wall-clock time, without a zone.
function wallClock(date, zone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(date).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

function message(text) {
  const p = document.createElement("p");
  p.className = "muted";
  p.textContent = text;
  return p;
}

function render(list, items) {
  const expoZone = form.dataset.tz;
  const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const day = formatter(expoZone, { weekday: "long", month: "long", day: "numeric" });
  const clock = formatter(expoZone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const mine = formatter(viewerZone, {
    weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
  });
  const submit = form.querySelector("[data-slot-submit]");
  list.replaceChildren();
  if (!items.length) {
    list.append(message(form.dataset.empty));
    return;
  }
  let group = null;
  let groupDay = "";
  for (const slot of items) {
    const start = new Date(slot.starts_at);
    const end = new Date(slot.ends_at);
    const value = wallClock(start, expoZone);
    if (value.slice(0, 10) !== groupDay) {
      groupDay = value.slice(0, 10);
      const heading = document.createElement("h3");
      heading.className = "slot-day";
      heading.textContent = day.format(start);
      group = document.createElement("div");
      group.className = "slot-options";
      list.append(heading, group);
    }
    const label = document.createElement("label");
    label.className = "slot-option";
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "starts_at";
    input.value = value;
    input.required = true;
    input.checked = value === form.dataset.chosen;
    input.addEventListener("change", () => { submit.disabled = false; });
    const time = document.createElement("span");
    time.className = "slot-time";
    time.textContent = `${clock.format(start)}–${clock.format(end)}`;
    label.append(input, time);
    if (viewerZone !== expoZone) {
      const local = document.createElement("span");
      local.className = "slot-local";
      local.textContent = `${form.dataset.yourTime}: ${mine.format(start)}`;
      label.append(local);
    }
    const free = document.createElement("span");
    free.className = "slot-free";
    free.textContent = slot.free === 1 ? form.dataset.oneLeft : form.dataset.placesLeft.replace("{num}", slot.free);
    label.append(free);
    group.append(label);
  }
  submit.disabled = !form.querySelector("input[name=starts_at]:checked");
}

async function load() {
  const list = form.querySelector("[data-slot-list]");
  try {
    const answer = await fetchJson(form.dataset.slots);
    render(list, answer.items);
  } catch {
    list.replaceChildren(message(form.dataset.failed));
  }
}

if (form) load();
