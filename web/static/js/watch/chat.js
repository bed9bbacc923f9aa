// The watch page's chat: the message list, sending (with the rate-limit and mute messages), catching
// up after a reconnect, and the moderators' tools (delete, mute, ban, slow mode), which the Q&A
// list reuses for questions.

import { fetchJson } from "../api.js";
import { $, api, button, config, failureText, showError, t } from "./page.js";

const MAX_CHAT_ITEMS = 300;
const MUTE_MINUTES = 10;

const chatList = $("chat-list");

/** Call a moderation endpoint; on failure say why in `errorElement`. Resolves to success. */
export async function moderate(url, options, errorElement) {
  try {
    await fetchJson(url, options);
    return true;
  } catch (error) {
    showError(errorElement, failureText(error));
    return false;
  }
}

function sanction(item, kind, errorElement) {
  const body = { user_id: Number(item.dataset.userId), kind, minutes: kind === "mute" ? MUTE_MINUTES : null };
  return moderate(`${api}/sanctions`, { method: "POST", body }, errorElement);
}

/** Delete, mute and ban buttons on a message, for moderators; `onremoved(id)` after a delete. */
export function addModeration(item, errorElement, onremoved) {
  if (!config.moderator || item.querySelector(".mod-actions")) return;
  const actions = document.createElement("span");
  actions.className = "mod-actions";
  actions.append(
    button(t.delete, () =>
      moderate(`${api}/chat/${item.dataset.id}`, { method: "DELETE" }, errorElement).then((ok) => {
        if (ok) onremoved(Number(item.dataset.id));
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

/** The author and body elements of a chat message or question, as text; tags `item` with ids. */
export function messageParts(item, message) {
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

export function addChat(message) {
  if (chatList.querySelector(`[data-id="${message.id}"]`)) return;
  const item = document.createElement("li");
  item.className = "chat-item";
  const [author, body] = messageParts(item, message);
  item.append(author, " ", body);
  addModeration(item, $("chat-error"), removeChat);
  const atBottom = chatList.scrollHeight - chatList.scrollTop - chatList.clientHeight < 40;
  chatList.append(item);
  while (chatList.children.length > MAX_CHAT_ITEMS) chatList.firstElementChild.remove();
  $("chat-empty").hidden = true;
  if (atBottom) chatList.scrollTop = chatList.scrollHeight;
}

export function removeChat(id) {
  for (const item of chatList.querySelectorAll(`.chat-item[data-id="${id}"]`)) item.remove();
  $("chat-empty").hidden = chatList.children.length > 0;
}

/** After a reconnect: fetch what was said while the socket was down. */
export async function catchUp() {
  const history = await fetchJson(`${api}/chat?limit=50`).catch(() => null);
  if (history) for (const message of history.items) addChat(message);
}

/** Reveal a send form (chat or question) and POST its text to `url`; `onsent(reply)` on success. */
export function wireSendForm(formId, inputId, errorId, url, onsent) {
  const form = $(formId);
  if (!form) return;
  const input = $(inputId);
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    let reply;
    try {
      reply = await fetchJson(url, { method: "POST", body: { body } });
    } catch (error) {
      showError($(errorId), failureText(error));
      return;
    }
    input.value = "";
    showError($(errorId), "");
    onsent(reply);
  });
}

/** The chat as the server drew it, made live: moderation buttons, the send form, slow mode. */
export function wireChat() {
  for (const item of chatList.children) addModeration(item, $("chat-error"), removeChat);
  chatList.scrollTop = chatList.scrollHeight;
  wireSendForm("chat-form", "chat-input", "chat-error", `${api}/chat`, addChat);
  const tools = $("moderator-tools");
  if (!tools) return;
  tools.hidden = false;
  $("slow-mode").addEventListener("change", (event) => {
    const body = { slow_mode_seconds: Number(event.target.value) };
    moderate(`${api}/chat-settings`, { method: "PATCH", body }, $("chat-error"));
  });
}

/** Another moderator changed slow mode. */
export function setSlowMode(seconds) {
  const select = $("slow-mode");
  if (select) select.value = String(seconds);
}
