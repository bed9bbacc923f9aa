// The watch page: player (WHEP, then native HLS), the stream's live channel (viewers, status,
// chat, Q&A, likes), presence heartbeats, and moderation for the stream's managers.
// Chat text is untrusted: it only ever reaches the DOM through textContent.

import { apiFetch } from "./app.js";
import { subscribe } from "./channel.js";
import { WhepPlayer } from "./whep.js";

const HEARTBEAT_MS = 5000;
const PLAYER_RETRY_MS = 15000;
const PLAYER_FIRST_RETRY_MS = 2000;
const MAX_CHAT_ITEMS = 300;
const MUTE_MINUTES = 10;

const root = document.getElementById("watch");
const config = JSON.parse(document.getElementById("watch-config").textContent);
const t = config.t;
const api = `/api/streams/${config.stream}`;
let status = config.status;

const $ = (id) => document.getElementById(id);
const chatList = $("chat-list");
const questionList = $("question-list");

function format(text, values) {
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

function showError(element, message) {
  if (!element) return;
  element.textContent = message;
  element.hidden = !message;
}

/** The user-facing message for a failed API call. */
async function failure(response) {
  let code = "";
  try {
    code = (await response.json()).error.code;
  } catch {
    // not JSON: fall through to the generic message
  }
  if (response.status === 429) {
    return format(t.tooFast, { seconds: response.headers.get("Retry-After") || "1" });
  }
  if (code === "chat.muted") return t.muted;
  if (code === "chat.banned") return t.banned;
  return t.failed;
}

// -- times in the viewer's zone -------------------------------------------------------------

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

// -- chat ------------------------------------------------------------------------------------

function button(label, onclick, className = "small") {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = label;
  element.addEventListener("click", onclick);
  return element;
}

async function moderate(url, options, errorElement) {
  const response = await apiFetch(url, options);
  if (!response.ok) showError(errorElement, await failure(response));
  return response.ok;
}

function sanction(item, kind, errorElement) {
  const userId = Number(item.dataset.userId);
  const body = { user_id: userId, kind, minutes: kind === "mute" ? MUTE_MINUTES : null };
  return moderate(
    `${api}/sanctions`,
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) },
    errorElement,
  );
}

/** Delete, mute and ban buttons on a message, for moderators. */
function addModeration(item, errorElement) {
  if (!config.moderator || item.querySelector(".mod-actions")) return;
  const actions = document.createElement("span");
  actions.className = "mod-actions";
  actions.append(
    button(t.delete, () =>
      moderate(`${api}/chat/${item.dataset.id}`, { method: "DELETE" }, errorElement).then((ok) => {
        if (ok) removeMessage(Number(item.dataset.id));
      }),
    ),
  );
  if (item.dataset.userId && Number(item.dataset.userId) !== config.user) {
    actions.append(
      button(t.mute, () => sanction(item, "mute", errorElement)),
      button(t.ban, () => sanction(item, "ban", errorElement), "small danger"),
    );
  }
  item.append(actions);
}

function messageParts(item, message) {
  const author = document.createElement("span");
  author.className = "chat-author";
  author.textContent = message.user.name;
  const body = document.createElement("span");
  body.className = "chat-body";
  body.textContent = message.body;
  item.dataset.id = String(message.id);
  item.dataset.userId = message.user.id == null ? "" : String(message.user.id);
  return [author, body];
}

function addChat(message) {
  if (chatList.querySelector(`[data-id="${message.id}"]`)) return;
  const item = document.createElement("li");
  item.className = "chat-item";
  const [author, body] = messageParts(item, message);
  item.append(author, " ", body);
  addModeration(item, $("chat-error"));
  const atBottom = chatList.scrollHeight - chatList.scrollTop - chatList.clientHeight < 40;
  chatList.append(item);
  while (chatList.children.length > MAX_CHAT_ITEMS) chatList.firstElementChild.remove();
  $("chat-empty").hidden = true;
  if (atBottom) chatList.scrollTop = chatList.scrollHeight;
}

function removeMessage(id) {
  for (const item of document.querySelectorAll(`.chat-item[data-id="${id}"], .question-item[data-id="${id}"]`)) {
    item.remove();
  }
  $("chat-empty").hidden = chatList.children.length > 0;
  $("question-empty").hidden = questionList.children.length > 0;
}

/** After a reconnect: fetch what was said while the socket was down. */
async function catchUp() {
  const response = await fetch(`${api}/chat?limit=50`, { credentials: "same-origin" });
  if (!response.ok) return;
  for (const message of (await response.json()).items) addChat(message);
}

function wireForm(formId, inputId, errorId, url, onsent) {
  const form = $(formId);
  if (!form) return;
  const input = $(inputId);
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    const response = await apiFetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ body }),
    });
    if (response.ok) {
      input.value = "";
      showError($(errorId), "");
      onsent(await response.json());
    } else {
      showError($(errorId), await failure(response));
    }
  });
}

// -- Q&A -------------------------------------------------------------------------------------

function sortQuestions() {
  const items = [...questionList.children];
  items.sort((a, b) => Number(b.dataset.votes) - Number(a.dataset.votes) || Number(a.dataset.id) - Number(b.dataset.id));
  questionList.append(...items);
}

function setVotes(item, votes) {
  item.dataset.votes = String(votes);
  item.querySelector(".question-votes").textContent = String(votes);
}

function markAnswered(item) {
  item.dataset.answered = "true";
  item.classList.add("answered");
  if (!item.querySelector(".badge")) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = t.answered;
    item.querySelector(".question-text").after(badge);
  }
  const action = item.querySelector(".answer-action");
  if (action) action.remove();
}

function enhanceQuestion(item) {
  const error = $("question-error");
  if (config.user != null && !item.querySelector(".vote-button")) {
    const vote = button(`▲ ${t.upvote}`, async () => {
      vote.disabled = true;
      const response = await apiFetch(`${api}/questions/${item.dataset.id}/vote`, { method: "POST" });
      if (response.ok) {
        item.dataset.voted = "true";
        setVotes(item, (await response.json()).votes);
        sortQuestions();
      } else {
        vote.disabled = false;
        showError(error, await failure(response));
      }
    }, "small vote-button");
    vote.disabled = item.dataset.voted === "true";
    item.prepend(vote);
  }
  if (config.moderator && item.dataset.answered !== "true" && !item.querySelector(".answer-action")) {
    const answer = button(t.markAnswered, async () => {
      if (await moderate(`${api}/questions/${item.dataset.id}/answered`, { method: "POST" }, error)) {
        markAnswered(item);
      }
    }, "small answer-action");
    item.append(answer);
  }
  addModeration(item, error);
}

function addQuestion(question) {
  if (questionList.querySelector(`[data-id="${question.id}"]`)) return;
  const item = document.createElement("li");
  item.className = "question-item";
  const [author, body] = messageParts(item, question);
  item.dataset.votes = String(question.votes || 0);
  item.dataset.voted = "false";
  item.dataset.answered = question.answered ? "true" : "false";
  const votes = document.createElement("span");
  votes.className = "question-votes";
  votes.textContent = item.dataset.votes;
  const text = document.createElement("span");
  text.className = "question-text";
  text.append(author, " ", body);
  item.append(votes, text);
  if (question.answered) markAnswered(item);
  enhanceQuestion(item);
  questionList.append(item);
  $("question-empty").hidden = true;
  sortQuestions();
}

// -- player, status, viewers, heartbeats -----------------------------------------------------

const video = $("player");
const playerState = $("player-state");
let player = null;
let retryTimer = null;
let retryDelay = PLAYER_FIRST_RETRY_MS;
let heartbeatTimer = null;

function setPlayerState(text) {
  if (!playerState) return;
  playerState.textContent = text;
  playerState.hidden = !text;
}

function playHls() {
  // Browsers that play HLS themselves (Safari, recent Chromium) get the mass-audience path.
  if (!video.canPlayType("application/vnd.apple.mpegurl")) return false;
  video.srcObject = null;
  video.src = config.hlsUrl;
  video.play().catch(() => undefined);
  return true;
}

function onVideoError() {
  // The HLS playlist is missing or broken: nothing is reaching the server right now.
  if (!video.getAttribute("src") || status !== "live") return;
  video.removeAttribute("src");
  setPlayerState(t.offline);
  scheduleRetry();
}

async function startPlayer() {
  if (!video || player || status !== "live") return;
  clearTimeout(retryTimer);
  setPlayerState(t.connecting);
  const candidate = new WhepPlayer(config.whepUrl, video, {
    onstate: (state) => {
      if (state === "playing") playing();
      if (state === "failed" && player === candidate) {
        player = null;
        candidate.close(); // the server ends a failed session itself
        scheduleRetry();
      }
    },
  });
  player = candidate;
  try {
    await candidate.start();
  } catch {
    player = null;
    if (!playHls()) {
      setPlayerState(t.offline);
      scheduleRetry();
    }
  }
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  if (status !== "live") return;
  retryTimer = setTimeout(startPlayer, retryDelay);
  // A broadcast that has just started has no HLS segment for a few seconds: retry soon at first,
  // then back off so that a crowd does not hammer a stream that is really offline.
  retryDelay = Math.min(retryDelay * 2, PLAYER_RETRY_MS);
}

function playing() {
  retryDelay = PLAYER_FIRST_RETRY_MS;
  setPlayerState("");
}

function stopPlayer() {
  clearTimeout(retryTimer);
  if (player) {
    // Only called once the broadcast is over, when the server has hung up every viewer already.
    player.close();
    player = null;
  }
  if (video) {
    video.removeAttribute("src");
    video.load();
  }
}

function setViewers(count) {
  $("viewer-count").textContent = new Intl.NumberFormat(document.documentElement.lang || undefined).format(count);
}

async function heartbeat() {
  try {
    const response = await fetch(`${api}/heartbeat`, { method: "POST", credentials: "same-origin" });
    if (response.ok) setViewers((await response.json()).live_viewers);
  } catch {
    // offline for a moment: the next beat tries again
  }
}

function startHeartbeats() {
  if (heartbeatTimer) return;
  heartbeat();
  heartbeatTimer = setInterval(heartbeat, HEARTBEAT_MS);
}

function stopHeartbeats() {
  clearInterval(heartbeatTimer);
  heartbeatTimer = null;
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
    startHeartbeats();
    startPlayer();
  } else {
    stopHeartbeats();
    stopPlayer();
    setPlayerState(next === "ended" ? t.over : t.notStarted);
  }
}

// -- the live channel -------------------------------------------------------------------------

function onEvent(data) {
  switch (data.kind) {
    case "chat":
      addChat(data);
      break;
    case "question":
      addQuestion(data);
      break;
    case "chat_deleted":
      removeMessage(data.id);
      break;
    case "votes": {
      const item = questionList.querySelector(`[data-id="${data.id}"]`);
      if (item) {
        setVotes(item, data.votes);
        sortQuestions();
      }
      break;
    }
    case "question_answered": {
      const item = questionList.querySelector(`[data-id="${data.id}"]`);
      if (item) markAnswered(item);
      break;
    }
    case "likes":
      $("like-count").textContent = String(data.likes);
      break;
    case "viewers":
      setViewers(data.live_viewers);
      break;
    case "status":
      if (data.status !== status) setStatus(data.status);
      break;
    case "chat_settings": {
      const select = $("slow-mode");
      if (select) select.value = String(data.slow_mode_seconds);
      break;
    }
    default:
      break;
  }
}

// -- wiring ----------------------------------------------------------------------------------

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

function wireLikes() {
  const like = $("like-button");
  if (!like) return;
  like.hidden = false;
  like.addEventListener("click", async () => {
    const response = await apiFetch(`${api}/like`, { method: "POST" });
    if (response.ok) $("like-count").textContent = String((await response.json()).likes);
  });
}

function wireRegister() {
  const register = $("register-button");
  if (!register) return;
  register.hidden = false;
  register.addEventListener("click", async () => {
    const response = await apiFetch(`${api}/register`, { method: "POST" });
    if (response.ok) {
      const done = document.createElement("span");
      done.className = "badge";
      done.id = "registered";
      done.textContent = t.registered;
      register.replaceWith(done);
    }
  });
}

function wireModeration() {
  const tools = $("moderator-tools");
  if (!tools) return;
  tools.hidden = false;
  $("slow-mode").addEventListener("change", (event) => {
    moderate(
      `${api}/chat-settings`,
      {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ slow_mode_seconds: Number(event.target.value) }),
      },
      $("chat-error"),
    );
  });
}

function main() {
  localTimes();
  wireTabs();
  for (const item of chatList.children) addModeration(item, $("chat-error"));
  for (const item of questionList.children) enhanceQuestion(item);
  chatList.scrollTop = chatList.scrollHeight;
  wireForm("chat-form", "chat-input", "chat-error", `${api}/chat`, addChat);
  wireForm("question-form", "question-input", "question-error", `${api}/questions`, addQuestion);
  wireLikes();
  wireRegister();
  wireModeration();
  subscribe(config.channel, {
    onevent: onEvent,
    onsubscribed: (again) => {
      root.dataset.channel = "subscribed";
      if (again) catchUp();
    },
  });
  if (video) {
    video.addEventListener("error", onVideoError);
    video.addEventListener("playing", playing);
  }
  if (status === "live") setStatus("live");
  window.addEventListener("pagehide", () => {
    if (status === "live") navigator.sendBeacon(`${api}/leave`);
    if (player) player.stop();
  });
}

main();
