// A telepresence room (API: streaming/room_routes.py). Opening the page joins: the camera and
// microphone go to the server on one sendonly connection, and every other participant comes back
// on a recvonly connection of its own, forwarded by the server (an SFU). Arrivals and departures
// arrive on the room's realtime channel; after a reconnect the participant list is read again.

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

function tileFor(participant) {
  const tile = document.createElement("figure");
  tile.className = "room-tile";
  const video = document.createElement("video");
  video.className = "room-video";
  video.dataset.participant = participant.id;
  video.autoplay = true;
  video.playsInline = true;
  const caption = document.createElement("figcaption");
  caption.textContent = participant.name; // text, never HTML
  tile.append(video, caption);
  grid.append(tile);
  return { tile, video };
}

/** Play with sound if the browser allows it; otherwise muted, with a button to turn sound on. */
function play(video) {
  video.play().catch(() => {
    video.muted = true;
    video.play().catch(() => {});
    unmute.hidden = false;
  });
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
  const player = new WhepPlayer(url, remote.video, { headers: headers(), play });
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

function onEvent(event) {
  if (event.type === "joined") arrive(event.participant);
  else if (event.type === "published") receive(event.participant);
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

function toggle(button, kind, offLabel, onLabel) {
  button.addEventListener("click", () => {
    const tracks = local ? (kind === "audio" ? local.getAudioTracks() : local.getVideoTracks()) : [];
    const off = button.getAttribute("aria-pressed") !== "true";
    for (const track of tracks) track.enabled = !off;
    button.setAttribute("aria-pressed", String(off));
    button.textContent = off ? onLabel : offLabel;
  });
}

async function join() {
  try {
    me = await fetchJson(`${api}/participants`, { method: "POST", body: { key: config.key } });
  } catch (error) {
    finish(error.code === "room.full" ? t.full : error.code === "room.ended" ? t.ended : t.failed, "failed");
    return;
  }
  controls.hidden = false;
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
    video.muted = false;
    video.play().catch(() => {});
  }
  unmute.hidden = true;
});
document.getElementById("end-button")?.addEventListener("click", async () => {
  await fetchJson(`${api}/end`, { method: "POST", body: { key: config.key } }).catch(() => null);
  finish(t.ended, "ended");
});
window.addEventListener("pagehide", leave);

if (!config.ended) {
  join().catch(() => finish(t.failed, "failed"));
}
