// A telepresence room (API: streaming/room_routes.py). Opening the page joins: the camera and
// microphone go to the server on one sendonly connection, and every other participant comes back
// on a recvonly connection of its own, forwarded by the server (an SFU). Arrivals and departures
// arrive on the room's realtime channel; after a reconnect the participant list is read again.

import { subscribe } from "./channel.js";
import { exchangeSdp } from "./whep.js";
import { preferH264 } from "./whip.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const t = config.t;
const api = `/api/rooms/${config.room}`;
const grid = document.getElementById("room-grid");
const state = document.getElementById("room-state");
const controls = document.getElementById("room-controls");
const unmute = document.getElementById("unmute-audio");

let me = null; // {id, secret, channel}
let local = null; // our MediaStream
let publisher = null; // our sending RTCPeerConnection
let closeChannel = () => {};
// participant id -> {tile, video, pc and media: the subscription and the sending session it is to}
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
  const pc = new RTCPeerConnection();
  publisher = pc;
  for (const track of local.getTracks()) {
    const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [local] });
    if (track.kind === "video") preferH264(transceiver);
  }
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed" && !finished) show(t.failed, "failed");
  });
  await exchangeSdp(pc, `${api}/participants/${me.id}/publish`, headers());
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
    remote = { pc: null, media: null, ...tileFor(participant) };
    remotes.set(participant.id, remote);
    showPresence();
  }
  return remote;
}

/** Receive someone's media, forwarded by the server, once they send it (again if they reconnected). */
async function receive(participant) {
  const remote = arrive(participant);
  if (!remote || !participant.publishing || remote.media === participant.media) return;
  if (remote.pc) remote.pc.close(); // their previous sending session is gone
  const pc = new RTCPeerConnection();
  remote.pc = pc;
  remote.media = participant.media;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.addEventListener("track", (event) => {
    stream.addTrack(event.track);
    if (remote.video.srcObject !== stream) remote.video.srcObject = stream;
    play(remote.video);
  });
  try {
    await exchangeSdp(pc, `${api}/participants/${me.id}/subscriptions/${participant.id}`, headers());
  } catch {
    // They left meanwhile, or stopped sending: a later event brings their media back.
    pc.close();
    if (remote.pc === pc) {
      remote.pc = null;
      remote.media = null;
    }
  }
}

function drop(id) {
  const remote = remotes.get(id);
  if (!remote) return;
  remotes.delete(id);
  if (remote.pc) remote.pc.close();
  remote.tile.remove();
  showPresence();
}

async function resync() {
  if (finished) return;
  const response = await fetch(`${api}/participants?key=${encodeURIComponent(config.key)}`);
  if (!response.ok) return;
  const { participants } = await response.json();
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
  fetch(`${api}/participants/${me.id}`, { method: "DELETE", headers: headers(), keepalive: true }).catch(() => {});
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
  const response = await fetch(`${api}/participants`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ key: config.key }),
  });
  if (!response.ok) {
    const code = (await response.json().catch(() => ({})))?.error?.code;
    finish(code === "room.full" ? t.full : code === "room.ended" ? t.ended : t.failed, "failed");
    return;
  }
  me = await response.json();
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
  await fetch(`${api}/end`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ key: config.key }),
  });
  finish(t.ended, "ended");
});
window.addEventListener("pagehide", leave);

if (!config.ended) {
  join().catch(() => finish(t.failed, "failed"));
}
