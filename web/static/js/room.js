// A telepresence room (API: streaming/room_api.py). Opening the page joins: the camera and
// microphone go to the server on one sendonly connection, and every other participant comes back
// on a recvonly connection of its own, forwarded by the server (an SFU). Arrivals and departures
// arrive on the room's realtime channel; after a reconnect the participant list is read again.
// A guest joins at once as "Guest 3" and may type a name meanwhile (remembered for the next room):
// the others' tiles follow it through the channel's "renamed" events.

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
const NAME_KEY = "expo.room.name";
const NAME_MAX = 60;

let me = null; // {id, secret, channel}
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

function tileFor(participant) {
  const tile = document.createElement("figure");
  tile.className = "room-tile";
  const video = document.createElement("video");
  video.className = "room-video";
  video.dataset.participant = participant.id;
  video.autoplay = true;
  video.playsInline = true;
  const caption = document.createElement("figcaption");
  caption.textContent = label(participant); // text, never HTML
  tile.append(video, caption);
  grid.append(tile);
  return { tile, video, caption };
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
  if (!list) return;
  const { participants } = list;
  const present = new Set(participants.map((p) => p.id));
  for (const id of [...remotes.keys()]) if (!present.has(id)) drop(id);
  for (const participant of participants) await receive(participant);
}

/** Someone changed their name: their tile says it at once. */
function rename(participant) {
  const remote = remotes.get(participant.id);
  if (remote) remote.caption.textContent = label(participant);
}

function onEvent(event) {
  // Other parts of the page (the signing panel, the ceremony moment) follow the channel too.
  document.dispatchEvent(new CustomEvent("expo:channel-event", { detail: event }));
  if (event.type === "joined") arrive(event.participant);
  else if (event.type === "published") receive(event.participant);
  else if (event.type === "renamed") rename(event.participant);
  else if (event.type === "left") drop(event.id);
  else if (event.type === "ended") finish(t.ended, "ended");
}

function finish(text, kind) {
  if (finished) return;
  finished = true;
  closeChannel();
  for (const id of [...remotes.keys()]) drop(id);
  if (publisher) publisher.close();
  if (local) for (const track of local.getTracks()) track.stop();
  controls.hidden = true;
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

async function join() {
  const name = savedName();
  try {
    me = await fetchJson(`${api}/participants`, { method: "POST", body: { key: config.key, name } });
  } catch (error) {
    finish(error.code === "room.full" ? t.full : error.code === "room.ended" ? t.ended : t.failed, "failed");
    return;
  }
  controls.hidden = false;
  wireName();
  closeChannel = subscribe(me.channel, {
    onevent: onEvent,
    // Whatever happened before the subscription was live (someone started sending between our
    // join and now), or while the socket was down, is read from the participant list.
    onsubscribed: () => resync(),
  });
  showPresence();
  await publish();
  for (const participant of me.participants) await receive(participant);
}

toggle(document.getElementById("toggle-microphone"), "audio", t.muteMicrophone, t.unmuteMicrophone);
toggle(document.getElementById("toggle-camera"), "video", t.cameraOff, t.cameraOn);
document.getElementById("leave-button").addEventListener("click", leave);
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
