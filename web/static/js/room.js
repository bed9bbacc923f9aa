// A telepresence room (API: streaming/room_api.py). Opening the page joins: the camera and
// microphone go to the server on one sendonly connection, and every other participant comes back
// on a recvonly connection of its own, forwarded by the server (an SFU). Arrivals and departures
// arrive on the room's realtime channel; after a reconnect the participant list is read again.
// A guest joins at once as "Guest 3" and may type a name meanwhile (remembered for the next room):
// the others' tiles follow it through the channel's "renamed" events.
// Room control: a guest of a room with a lobby waits until the host admits them ("admitted") or
// turns them away; the host's page lists who waits, changes capacity, lobby and lock, removes
// people, asks them to mute (their own page mutes their microphone: the server never does) and
// lowers raised hands.

import { fetchJson } from "./api.js";
import { subscribe } from "./channel.js";
import { WhepPlayer, WhipPublisher } from "./webrtc.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const t = config.t;
const api = `/api/rooms/${config.room}`;
const grid = document.getElementById("room-grid");
const state = document.getElementById("room-state");
const controls = document.getElementById("room-controls");
const unmute = document.getElementById("unmute-audio");
const notice = document.getElementById("room-notice");
const handButton = document.getElementById("raise-hand");
const microphoneButton = document.getElementById("toggle-microphone");
const lobby = document.getElementById("room-lobby"); // the host's only
const lobbyList = document.getElementById("lobby-list");
const settingsForm = document.getElementById("room-settings"); // the host's only
const isHost = config.role === "host";
// What only those inside the room use: a guest waiting in the lobby may only leave.
const INSIDE_ONLY = ["toggle-microphone", "toggle-camera", "raise-hand"].map((id) => document.getElementById(id));
const NAME_KEY = "expo.room.name";
const NAME_MAX = 60;

let me = null; // {id, secret, channel, waiting}
let local = null; // our MediaStream
let publisher = null; // our WhipPublisher
let closeChannel = () => {};
// participant id -> {tile, video, player and media: the subscription and the sending session it is to}
const remotes = new Map();
let finished = false;

function show(text, kind = "ok") {
  state.textContent = text;
  state.dataset.state = kind;
}

function showPresence() {
  if (!finished) show(remotes.size ? t.inRoom : t.alone);
}

function tell(text) {
  notice.textContent = text;
  notice.hidden = !text;
}

function headers() {
  return { Authorization: `Bearer ${me.secret}` };
}

async function publish() {
  try {
    local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch {
    show(t.noCamera, "warning");
    return;
  }
  document.getElementById("self-video").srcObject = local;
  publisher = new WhipPublisher(`${api}/participants/${me.id}/publish`, me.secret, {
    onstate: (name) => {
      if (name === "failed" && !finished) show(t.failed, "failed");
    },
  });
  await publisher.start(local);
}

/** What a participant's tile says: their name, else "Host" or "Guest 3" in this page's language. */
function label(participant) {
  if (participant.named) return participant.name;
  return participant.role === "host" ? t.host : t.guest.replace("{n}", participant.number);
}

function button(text, onclick, className = "small") {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  element.addEventListener("click", onclick);
  return element;
}

/** A host's action on someone else; a refusal (they just left) is said, never thrown. */
async function control(path, method = "POST") {
  try {
    await fetchJson(`${api}/participants/${me.id}/${path}`, { method, headers: headers() });
    return true;
  } catch {
    tell(t.actionFailed);
    return false;
  }
}

function tileFor(participant) {
  const tile = document.createElement("figure");
  tile.className = "room-tile";
  tile.dataset.tile = participant.id;
  const video = document.createElement("video");
  video.className = "room-video";
  video.dataset.participant = participant.id;
  video.autoplay = true;
  video.playsInline = true;
  const caption = document.createElement("figcaption");
  caption.textContent = label(participant); // text, never HTML
  const hand = document.createElement("span");
  hand.className = "room-hand";
  hand.textContent = t.handRaised;
  tile.append(video, caption, hand);
  let lower = null;
  if (isHost) {
    const actions = document.createElement("div");
    actions.className = "room-tile-actions";
    lower = button(t.lowerHand, () => control(`others/${participant.id}/hand`, "DELETE"));
    lower.dataset.action = "lower-hand";
    const mute = button(t.askMute, () => control(`others/${participant.id}/mute`));
    mute.dataset.action = "mute";
    const remove = button(t.remove, () => control(`others/${participant.id}/remove`), "small danger");
    remove.dataset.action = "remove";
    actions.append(lower, mute, remove);
    tile.append(actions);
  }
  grid.append(tile);
  const remote = { tile, video, caption, hand, lower };
  showHand(remote, participant.hand);
  return remote;
}

/** A raised hand shows on the tile (and, for the host, "Lower hand" beside it). */
function showHand(remote, raised) {
  remote.tile.dataset.hand = String(Boolean(raised));
  remote.hand.hidden = !raised;
  if (remote.lower) remote.lower.hidden = !raised;
}

/** "Play sound" is offered only while a video plays muted because the browser refused sound. */
function updateUnmute() {
  unmute.hidden = ![...remotes.values()].some(({ video }) => video.dataset.soundBlocked === "true");
}

/**
 * Play with sound if the browser allows it. Only a refusal of autoplay with sound
 * (NotAllowedError) mutes the video and offers "Play sound"; a play() cut short by new media
 * (AbortError) is not a refusal, the next play() decides.
 */
function play(video) {
  video.play().then(
    () => {
      if (!video.muted) video.dataset.soundBlocked = "false";
      updateUnmute();
    },
    (error) => {
      if (!error || error.name !== "NotAllowedError") return;
      video.muted = true;
      video.dataset.soundBlocked = "true";
      video.play().catch(() => {});
      updateUnmute();
    },
  );
}

/** Show someone who is in the room (a tile with their name), whether or not they send media. */
function arrive(participant) {
  if (participant.id === me.id) return null;
  let remote = remotes.get(participant.id);
  if (!remote) {
    remote = { player: null, media: null, ...tileFor(participant) };
    remotes.set(participant.id, remote);
    showPresence();
  }
  return remote;
}

/** Receive someone's media, forwarded by the server, once they send it (again if they reconnected). */
async function receive(participant) {
  const remote = arrive(participant);
  if (!remote || !participant.publishing || remote.media === participant.media) return;
  if (remote.player) remote.player.close(); // their previous sending session is gone
  const url = `${api}/participants/${me.id}/subscriptions/${participant.id}`;
  const player = new WhepPlayer(url, remote.video, {
    headers: headers(),
    play,
    // Their media stopped reaching us: if they are gone, the participant list says so.
    onstate: (name) => {
      if (name === "failed" && remote.player === player) resync();
    },
  });
  remote.player = player;
  remote.media = participant.media;
  try {
    await player.start();
  } catch {
    // They left meanwhile, or stopped sending: a later event brings their media back.
    if (remote.player === player) {
      remote.player = null;
      remote.media = null;
    }
  }
}

/** Someone (else) waits in the lobby: the host's list offers Admit and Turn away. */
function knock(participant) {
  if (!lobby || participant.id === me.id) return;
  let item = lobbyList.querySelector(`[data-waiting="${CSS.escape(participant.id)}"]`);
  if (!item) {
    item = document.createElement("li");
    item.dataset.waiting = participant.id;
    const name = document.createElement("span");
    name.className = "room-lobby-name";
    const admit = button(t.admit, () => control(`lobby/${participant.id}/admit`));
    admit.dataset.action = "admit";
    const away = button(t.turnAway, () => control(`lobby/${participant.id}/turn-away`), "small");
    away.dataset.action = "turn-away";
    item.append(name, admit, away);
    lobbyList.append(item);
  }
  item.querySelector(".room-lobby-name").textContent = label(participant);
  lobby.hidden = false;
}

function unknock(id) {
  if (!lobby) return;
  lobbyList.querySelector(`[data-waiting="${CSS.escape(id)}"]`)?.remove();
  lobby.hidden = !lobbyList.children.length;
}

function drop(id) {
  const remote = remotes.get(id);
  if (!remote) return;
  remotes.delete(id);
  if (remote.player) remote.player.close();
  remote.tile.remove();
  updateUnmute();
  showPresence();
}

async function resync() {
  if (finished) return;
  const list = await fetchJson(`${api}/participants?key=${encodeURIComponent(config.key)}`).catch(() => null);
  if (!list || finished) return;
  const { participants, waiting, settings } = list;
  const present = new Set(participants.map((p) => p.id));
  if (me.waiting) {
    // Let in while this page's socket was down: the list has us.
    if (present.has(me.id)) await enter();
    return;
  }
  applySettings(settings);
  if (lobby) {
    const knocking = new Set(waiting.map((p) => p.id));
    for (const item of [...lobbyList.children]) if (!knocking.has(item.dataset.waiting)) unknock(item.dataset.waiting);
    for (const participant of waiting) knock(participant);
  }
  for (const id of [...remotes.keys()]) if (!present.has(id)) drop(id);
  for (const participant of participants) {
    await receive(participant);
    hand(participant);
  }
}

/** Someone changed their name: their tile (or their line in the lobby) says it at once. */
function rename(participant) {
  const remote = remotes.get(participant.id);
  if (remote) remote.caption.textContent = label(participant);
  else if (lobby?.querySelector(`[data-waiting="${CSS.escape(participant.id)}"]`)) knock(participant);
}

/** Someone raised or lowered their hand: their tile shows it, our own too. */
function hand(participant) {
  if (participant.id === me.id) {
    document.getElementById("self-tile").querySelector(".room-hand").hidden = !participant.hand;
    handButton.setAttribute("aria-pressed", String(participant.hand));
    handButton.textContent = participant.hand ? t.lowerHand : t.raiseHand;
    return;
  }
  const remote = remotes.get(participant.id);
  if (remote) showHand(remote, participant.hand);
}

/** The host asked us to mute: our own page turns the microphone off (the server never does). */
function muteMyself() {
  if (microphoneButton.getAttribute("aria-pressed") !== "true") microphoneButton.click();
  tell(t.mutedByHost);
}

/** Events that concern us while we wait in the lobby; the rest is for those inside. */
const LOBBY_EVENTS = new Set(["admitted", "turned_away", "ended"]);

function onEvent(event) {
  // Other parts of the page (the signing panel, the ceremony moment) follow the channel too.
  document.dispatchEvent(new CustomEvent("expo:channel-event", { detail: event }));
  if (me.waiting && !LOBBY_EVENTS.has(event.type)) return;
  const mine = (event.id || event.participant?.id) === me.id;
  if (event.type === "joined") arrive(event.participant);
  else if (event.type === "waiting") knock(event.participant);
  else if (event.type === "admitted") {
    if (mine) enter();
    else {
      unknock(event.participant.id);
      arrive(event.participant);
    }
  } else if (event.type === "turned_away") {
    if (mine) finish(t.turnedAway, "ended");
    else unknock(event.id);
  } else if (event.type === "removed") {
    if (mine) finish(t.removed, "ended");
    else drop(event.id);
  } else if (event.type === "mute") {
    if (mine) muteMyself();
  } else if (event.type === "hand") hand(event.participant);
  else if (event.type === "settings") applySettings(event.settings);
  else if (event.type === "published") receive(event.participant);
  else if (event.type === "renamed") rename(event.participant);
  else if (event.type === "left") {
    drop(event.id);
    unknock(event.id);
  } else if (event.type === "ended") finish(t.ended, "ended");
}

function finish(text, kind) {
  if (finished) return;
  finished = true;
  closeChannel();
  for (const id of [...remotes.keys()]) drop(id);
  if (publisher) publisher.close();
  if (local) for (const track of local.getTracks()) track.stop();
  controls.hidden = true;
  if (lobby) lobby.hidden = true;
  if (settingsForm) settingsForm.hidden = true;
  show(text, kind);
}

function leave() {
  if (!me || finished) return;
  // keepalive: the request outlives a page that is being closed.
  fetchJson(`${api}/participants/${me.id}`, { method: "DELETE", headers: headers(), keepalive: true }).catch(() => {});
  finish(t.left, "ended");
}

/** The tab is closing: a beacon (which the browser sends even as the page dies) says we left. */
function leaveOnClose() {
  if (!me || finished) return;
  navigator.sendBeacon(`${api}/participants/${me.id}/leave`, new Blob([me.secret], { type: "text/plain" }));
  finish(t.left, "ended");
}

function toggle(button, kind, offLabel, onLabel) {
  button.addEventListener("click", () => {
    const tracks = local ? (kind === "audio" ? local.getAudioTracks() : local.getVideoTracks()) : [];
    const off = button.getAttribute("aria-pressed") !== "true";
    for (const track of tracks) track.enabled = !off;
    button.setAttribute("aria-pressed", String(off));
    button.textContent = off ? onLabel : offLabel;
  });
}

/** The name this browser gave in a room before (guests only; hosts are named by their link). */
function savedName() {
  if (config.role !== "guest") return "";
  return (window.localStorage.getItem(NAME_KEY) || "").trim().slice(0, NAME_MAX);
}

/** The guest's name bar: saving it renames them for everyone, and for their next room. */
function wireName() {
  const form = document.getElementById("name-form");
  if (!form) return;
  const input = document.getElementById("display-name");
  const note = document.getElementById("name-state");
  if (me.named) input.value = me.name;
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name || name.length > NAME_MAX) {
      note.textContent = t.nameInvalid;
      return;
    }
    try {
      const saved = await fetchJson(`${api}/participants/${me.id}/name`, {
        method: "PUT",
        headers: headers(),
        body: { name },
      });
      window.localStorage.setItem(NAME_KEY, saved.name);
      input.value = saved.name;
      note.textContent = t.nameSaved.replace("{name}", saved.name);
    } catch (error) {
      note.textContent = error.code === "room.invalid_name" ? t.nameInvalid : t.nameFailed;
    }
  });
}

/** The host's settings: capacity, lobby, lock (shown in their form; the lock state said). */
function applySettings(settings) {
  if (!settingsForm || !settings) return;
  const lock = document.getElementById("lock-button");
  lock.setAttribute("aria-pressed", String(settings.locked));
  lock.textContent = settings.locked ? t.unlock : t.lock;
  lock.dataset.locked = String(settings.locked);
  document.getElementById("lobby-on").checked = settings.lobby;
  const capacity = document.getElementById("room-capacity");
  if (document.activeElement !== capacity) capacity.value = settings.capacity; // not while typing
  settingsForm.dataset.locked = String(settings.locked);
}

async function saveSettings(change) {
  const note = document.getElementById("settings-state");
  try {
    const settings = await fetchJson(`${api}/settings`, { method: "PUT", body: { key: config.key, ...change } });
    applySettings(settings);
    note.textContent = `${t.saved} ${settings.locked ? t.isLocked : t.isOpen}`;
  } catch (error) {
    const limit = config.settings.limit;
    note.textContent =
      error.code === "room.invalid_capacity" ? t.capacityInvalid.replace("{limit}", limit) : t.actionFailed;
  }
}

function wireSettings() {
  if (!settingsForm) return;
  settingsForm.hidden = false;
  const capacity = document.getElementById("room-capacity");
  settingsForm.addEventListener("submit", (event) => {
    event.preventDefault();
    saveSettings({ capacity: Number(capacity.value) });
  });
  document.getElementById("lobby-on").addEventListener("change", (event) => {
    saveSettings({ lobby: event.target.checked });
  });
  document.getElementById("lock-button").addEventListener("click", (event) => {
    saveSettings({ locked: event.target.dataset.locked !== "true" });
  });
  applySettings(config.settings);
}

/** In the room (at once, or once the host let us in from the lobby): send, and receive the others. */
async function enter() {
  if (!me.waiting && me.entered) return;
  me.waiting = false;
  me.entered = true;
  for (const element of INSIDE_ONLY) element.hidden = false;
  controls.hidden = false;
  showPresence();
  await publish();
  await resync();
}

const JOIN_REFUSALS = {
  "room.full": "full",
  "room.ended": "ended",
  "room.locked": "locked",
  "room.lobby_full": "lobbyFull",
};

async function join() {
  const name = savedName();
  try {
    me = await fetchJson(`${api}/participants`, { method: "POST", body: { key: config.key, name } });
  } catch (error) {
    finish(t[JOIN_REFUSALS[error.code]] || t.failed, "failed");
    return;
  }
  wireName();
  wireSettings();
  closeChannel = subscribe(me.channel, {
    onevent: onEvent,
    // Whatever happened before the subscription was live (someone started sending between our
    // join and now), or while the socket was down, is read from the participant list.
    onsubscribed: () => resync(),
  });
  if (me.waiting) {
    for (const element of INSIDE_ONLY) element.hidden = true;
    controls.hidden = false; // to leave the lobby
    show(t.waiting, "waiting");
    return;
  }
  me.entered = true;
  controls.hidden = false;
  showPresence();
  await publish();
  for (const participant of me.participants) await receive(participant);
}

toggle(document.getElementById("toggle-microphone"), "audio", t.muteMicrophone, t.unmuteMicrophone);
toggle(document.getElementById("toggle-camera"), "video", t.cameraOff, t.cameraOn);
document.getElementById("leave-button").addEventListener("click", leave);
handButton.addEventListener("click", async () => {
  const raised = handButton.getAttribute("aria-pressed") !== "true";
  try {
    hand(await fetchJson(`${api}/participants/${me.id}/hand`, { method: "PUT", headers: headers(), body: { raised } }));
  } catch {
    tell(t.actionFailed);
  }
});
unmute.addEventListener("click", () => {
  for (const { video } of remotes.values()) {
    if (video.dataset.soundBlocked !== "true") continue;
    video.muted = false;
    video.dataset.soundBlocked = "false";
    play(video); // a click allows sound: this plays, or offers the button again
  }
  updateUnmute();
});
document.getElementById("end-button")?.addEventListener("click", async () => {
  await fetchJson(`${api}/end`, { method: "POST", body: { key: config.key } }).catch(() => null);
  finish(t.ended, "ended");
});
window.addEventListener("pagehide", leaveOnClose);

if (!config.ended) {
  join().catch(() => finish(t.failed, "failed"));
}
