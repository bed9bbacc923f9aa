// A room's tiles (room.js): one <figure> per participant with their name, a raised hand, their
// microphone and camera state, a ring while they speak and "Reconnecting…" while their connection
// is down; shared screens get tiles of their own, labelled "<name> (screen)". Names are always set
// as text, never as HTML. The remote participant's <video data-participant> is the public contract.

import { button } from "./dom.js";

/** What a participant's tile says: their name, else "Host" or "Guest 3" in this page's language. */
export function label(participant, t) {
  if (participant.named) return participant.name;
  return participant.role === "host" ? t.host : t.guest.replace("{n}", participant.number);
}

/** Initials for the avatar shown when the camera is off: "Ann Buyer" → "AB", "Host" → "H", "王芳" → "王芳". */
export function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  if (words.length > 1) return [words[0], words[words.length - 1]].map((w) => [...w][0].toUpperCase()).join("");
  const letters = [...words[0]];
  // A Chinese or Japanese name reads whole in two characters; a one-word Latin name by its first letter.
  return /[\u2e80-\u9fff\uac00-\ud7af]/u.test(letters[0]) ? letters.slice(0, 2).join("") : letters[0].toUpperCase();
}

function badge(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  element.hidden = true;
  return element;
}

/**
 * Build a tile in `grid`: `{tile, video, caption, hand, avatar, muted, status, pin}`. `id` is the
 * participant's (or "<id>:screen"); `video` carries `data-participant` for a person only.
 * `onpin(key)` pins or unpins it in the speaker layout.
 */
export function makeTile(grid, { key, participantId, text, screen = false, t, onpin }) {
  const tile = document.createElement("figure");
  tile.className = screen ? "room-tile room-screen" : "room-tile";
  tile.dataset.tile = key;
  const video = document.createElement("video");
  video.className = "room-video";
  if (screen) video.dataset.screen = participantId;
  else video.dataset.participant = participantId;
  video.autoplay = true;
  video.playsInline = true;
  const avatar = document.createElement("span");
  avatar.className = "room-avatar";
  avatar.setAttribute("aria-hidden", "true");
  avatar.hidden = true;
  const caption = document.createElement("figcaption");
  const name = document.createElement("span");
  name.className = "room-name-text";
  const muted = badge("room-muted", "");
  muted.setAttribute("role", "img");
  muted.setAttribute("aria-label", t.micOff);
  muted.title = t.micOff;
  caption.append(muted, name);
  const hand = badge("room-hand", t.handRaised);
  const status = badge("room-status", t.reconnectingTile);
  const pin = button(t.pin, () => onpin(key), "small room-pin");
  pin.setAttribute("aria-pressed", "false");
  tile.append(video, avatar, caption, hand, status, pin);
  grid.append(tile);
  const remote = { tile, video, caption, name, hand, avatar, muted, status, pin };
  setName(remote, text);
  return remote;
}

export function setName(remote, text) {
  remote.name.textContent = text;
  remote.avatar.textContent = initials(text);
  remote.pin.setAttribute("aria-label", `${remote.pin.textContent}: ${text}`);
}

/** A raised hand shows on the tile (and, for the host, "Lower hand" beside it). */
export function showHand(remote, raised) {
  remote.tile.dataset.hand = String(Boolean(raised));
  remote.hand.hidden = !raised;
  if (remote.lower) remote.lower.hidden = !raised;
}

/** Microphone muted: an icon beside the name; camera off: their initials instead of a still picture. */
export function showMedia(remote, { muted, camera_off: cameraOff }) {
  remote.muted.hidden = !muted;
  remote.tile.dataset.muted = String(Boolean(muted));
  remote.avatar.hidden = !cameraOff;
  remote.tile.dataset.cameraOff = String(Boolean(cameraOff));
}

export function showReconnecting(remote, reconnecting) {
  remote.status.hidden = !reconnecting;
  remote.tile.dataset.reconnecting = String(Boolean(reconnecting));
}

/** A ring around the tiles of those speaking now (`ids`), and only theirs. */
export function showSpeaking(grid, ids) {
  const speaking = new Set(ids);
  for (const tile of grid.querySelectorAll(".room-tile")) {
    tile.dataset.speaking = String(speaking.has(tile.dataset.tile));
  }
}
