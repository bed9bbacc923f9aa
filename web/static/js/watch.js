// The watch page's entry module: wires the parts in watch/ together and follows the stream's
// live channel (viewers, status, chat, Q&A, likes). The parts: page.js (config, strings,
// helpers), player.js (WHEP, then native HLS), chat.js (messages and moderation), qa.js
// (questions and votes), audience.js (viewer count, heartbeats, likes, registration).

import { subscribe } from "./channel.js";
import * as audience from "./watch/audience.js";
import { addChat, catchUp, removeChat, setSlowMode, wireChat } from "./watch/chat.js";
import { $, config, t } from "./watch/page.js";
import { Player } from "./watch/player.js";
import { addQuestion, onAnswered, onVotes, removeQuestion, wireQuestions } from "./watch/qa.js";

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

function wireTabs() {
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
  switch (data.kind) {
    case "chat":
      addChat(data);
      break;
    case "question":
      addQuestion(data);
      break;
    case "chat_deleted":
      removeChat(data.id);
      removeQuestion(data.id);
      break;
    case "votes":
      onVotes(data.id, data.votes);
      break;
    case "question_answered":
      onAnswered(data.id);
      break;
    case "likes":
      audience.setLikes(data.likes);
      break;
    case "viewers":
      audience.setViewers(data.live_viewers);
      break;
    case "status":
      if (data.status !== status) setStatus(data.status);
      break;
    case "chat_settings":
      setSlowMode(data.slow_mode_seconds);
      break;
    default:
      break;
  }
}

localTimes();
wireTabs();
wireChat();
wireQuestions();
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
