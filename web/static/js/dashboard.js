// Keeps a dashboard's live figures current. The server drew them already; this module only
// updates them: the organizer's "Right now" section from channel dashboard:{expo_id} (complete
// figures in every event, see expo/dashboards/live.py), and on an exhibitor's page each live
// broadcast's viewer count from its stream:{id} channel. Text is set with textContent only.

import { fetchJson } from "./api.js";
import { subscribe } from "./channel.js";

const numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined);

function setFigure(element, value) {
  const text = numberFormat.format(value);
  if (element.textContent === text) return;
  element.textContent = text;
  element.classList.remove("changed");
  void element.offsetWidth; // restart the highlight animation
  element.classList.add("changed");
}

function liveBroadcastRows(tbody, broadcasts) {
  const rows = broadcasts.map((broadcast) => {
    const row = document.createElement("tr");
    row.dataset.broadcast = String(broadcast.id);
    const name = document.createElement("th");
    name.scope = "row";
    const link = document.createElement("a");
    link.href = `/watch/${broadcast.id}`;
    link.textContent = broadcast.title;
    name.append(link);
    const count = document.createElement("td");
    count.className = "num";
    count.textContent = numberFormat.format(broadcast.live_viewers);
    row.append(name, count);
    return row;
  });
  if (!rows.length) {
    const row = document.createElement("tr");
    row.className = "empty";
    const cell = document.createElement("td");
    cell.colSpan = 2;
    cell.className = "muted";
    cell.textContent = tbody.dataset.empty || "";
    row.append(cell);
    rows.push(row);
  }
  tbody.replaceChildren(...rows);
}

function applyFigures(section, figures) {
  for (const element of section.querySelectorAll("[data-figure]")) {
    const value = figures[element.dataset.figure];
    if (typeof value === "number") setFigure(element, value);
  }
  const tbody = section.querySelector("[data-live-broadcasts]");
  if (tbody && Array.isArray(figures.broadcasts)) {
    liveBroadcastRows(tbody, figures.broadcasts);
    // The "Watching now" column of the broadcasts table further down follows too.
    for (const broadcast of figures.broadcasts) {
      const cell = document.querySelector(
        `#broadcast-table tr[data-broadcast="${broadcast.id}"] [data-field="live_viewers"]`,
      );
      if (cell) setFigure(cell, broadcast.live_viewers);
    }
  }
  section.dataset.updated = String(Date.now());
}

function organizerLive(section) {
  const state = section.querySelector("[data-live-state]");
  subscribe(section.dataset.liveChannel, {
    onevent(data) {
      if (data && data.kind === "figures") applyFigures(section, data);
    },
    async onsubscribed() {
      // Events flow from now on; fetch once to cover what changed since the page was drawn.
      if (state) state.textContent = "●";
      const figures = await fetchJson(section.dataset.liveUrl).catch(() => null);
      if (figures) applyFigures(section, figures);
      section.dataset.subscribed = "true";
    },
    onrefused() {
      if (state) state.textContent = "";
    },
  });
}

function streamCounts() {
  for (const cell of document.querySelectorAll("[data-stream-live]")) {
    const stream = cell.dataset.streamLive;
    subscribe(`stream:${stream}`, {
      onevent(data) {
        if (data && data.kind === "viewers" && typeof data.live_viewers === "number") {
          setFigure(cell, data.live_viewers);
        }
      },
      async onsubscribed() {
        // As above: catch up with what changed before the subscription was live.
        const stats = await fetchJson(`/api/streams/${stream}/stats`).catch(() => null);
        if (stats) setFigure(cell, stats.live_viewers);
        cell.dataset.subscribed = "true";
      },
    });
  }
}

const live = document.querySelector("[data-live-channel]");
if (live) organizerLive(live);
streamCounts();
