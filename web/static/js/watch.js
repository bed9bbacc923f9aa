// The watch page's entry module: wires the parts in watch/ together and follows the stream's
// live channel (viewers, status, chat, Q&A, likes). The parts: page.js (config, strings,
// helpers), player.js (WHEP, then native HLS), panel.js (the chat and Q&A panel: chat.js,
// messages and moderation, and qa.js, questions and votes), audience.js (viewer count,
// heartbeats, likes, registration).

import { subscribe } from "./channel.js";
import * as audience from "./watch/audience.js";
import { $, config, t } from "./watch/page.js";
import { catchUp, onPanelEvent, wirePanel } from "./watch/panel.js";
import { Player } from "./watch/player.js";

const root = $("watch");
// No <video id="player"> once the broadcast has a recording: the page shows the replay instead.
const player = $("player") ? new Player($("player"), $("player-state"), config) : null;
let status = config.status;

/** Times in the viewer's own zone and language. */
function localTimes() {
  const formatter = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
  for (const time of document.querySelectorAll(".local-time time[datetime]")) {
    const moment = new Date(time.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) time.textContent = formatter.format(moment);
  }
}

function setStatus(next) {
  status = next;
  const badge = $("watch-status");
  badge.dataset.status = next;
  badge.textContent = t[next] || next;
  $("viewers").hidden = next !== "live";
  const register = $("register-button");
  if (register && next !== "scheduled") register.hidden = true;
  if (next === "live") {
    audience.startHeartbeats();
    if (player) player.play();
  } else {
    audience.stopHeartbeats();
    if (player) player.stop(next === "ended" ? t.over : t.notStarted);
  }
}

function onEvent(data) {
  // Other parts of the page (the ceremony moment of a signing on air) follow the channel too.
  document.dispatchEvent(new CustomEvent("expo:channel-event", { detail: data }));
  if (onPanelEvent(data)) return;
  switch (data.kind) {
    case "likes":
      audience.setLikes(data.likes);
      break;
    case "viewers":
      audience.setViewers(data.live_viewers);
      break;
    case "status":
      if (data.status !== status) setStatus(data.status);
      break;
    default:
      break;
  }
}

localTimes();
wirePanel();
audience.wireLikes();
audience.wireRegister();
subscribe(config.channel, {
  onevent: onEvent,
  onsubscribed: (again) => {
    root.dataset.channel = "subscribed";
    if (again) catchUp();
  },
});
if (status === "live") setStatus("live");
window.addEventListener("pagehide", () => {
  if (status === "live") audience.leave();
  if (player) player.leave();
});
