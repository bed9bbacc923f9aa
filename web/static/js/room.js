// A telepresence room (API: streaming/room_api.py, streaming/room_media_api.py). Opening the page
// joins: the camera and microphone go to the server on one sendonly connection, and every other
// participant comes back on a recvonly connection of its own, forwarded by the server (an SFU).
// Arrivals and departures arrive on the room's realtime channel; after a reconnect the participant
// list is read again. A guest joins at once as "Guest 3" and may type a name meanwhile
// (remembered for the next room): the others' tiles follow it through "renamed" events.
// Tiles (room_tiles.js) show names, raised hands, a muted microphone or a camera turned off, and a
// ring while someone speaks (the server reads the audio level the browser puts in each packet);
// the layout (room_layout.js) is a grid or a speaker view. A shared screen (room_screen.js) is a
// tile of its own. When our connection drops, the page joins again with its rejoin token: the
// same seat, so the others see "Reconnecting…" on our tile, never a ghost tile.
// Room control (room_control.js): the host admits or turns away guests waiting in the lobby,
// changes capacity, lobby and lock, removes people, asks them to mute (their own page mutes their
// microphone: the server never does) and lowers raised hands.

import { fetchJson } from "./api.js";
import { subscribe } from "./channel.js";
import { button } from "./dom.js";
import { HostControl } from "./room_control.js";
import { Layout } from "./room_layout.js";
import { Remotes } from "./room_remotes.js";
import { ScreenShare } from "./room_screen.js";
import * as tiles from "./room_tiles.js";
import { WhipPublisher } from "./webrtc.js";

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
const cameraButton = document.getElementById("toggle-camera");
const screenButton = document.getElementById("share-screen");
const isHost = config.role === "host";
// Phones cannot share a screen: no button for it there.
const canShare = Boolean(navigator.mediaDevices?.getDisplayMedia);
if (!canShare) screenButton.remove();
// What only those inside the room use: a guest waiting in the lobby may only leave.
const INSIDE_ONLY = ["toggle-microphone", "toggle-camera", "raise-hand", ...(canShare ? ["share-screen"] : [])].map(
  (id) => document.getElementById(id),
);
const NAME_KEY = "expo.room.name";
const NAME_MAX = 60;
const DROP_GRACE_MS = 4000; // a connection "disconnected" this long is taken for lost

let me = null; // {id, secret, rejoin, channel, waiting}
let local = null; // our MediaStream
let publisher = null; // our WhipPublisher
let closeChannel = () => {};
let finished = false;
let rejoining = false;

const self = {
  tile: document.getElementById("self-tile"),
  muted: document.querySelector("#self-tile .room-muted"),
  avatar: document.querySelector("#self-tile .room-avatar"),
};
const host = new HostControl({ api, config, t, control, label: (p) => tiles.label(p, t) });
const layout = new Layout(grid, document.getElementById("toggle-layout"), t);
const remotes = new Remotes({
  grid,
  t,
  layout,
  unmute,
  session: () => ({ api, me, headers: headers() }),
  hostActions,
  onfailed: () => resync(),
  onchange: () => showPresence(),
});
const screenShare = new ScreenShare({
  session: () => ({ api, me }),
  ontile: (stream) => remotes.showOwnScreen(stream),
  onstate: (sharing) => {
    screenButton.setAttribute("aria-pressed", String(sharing));
    screenButton.textContent = sharing ? t.stopSharing : t.shareScreen;
  },
  onerror: () => tell(t.actionFailed),
});

function show(text, kind = "ok") {
  state.textContent = text;
  state.dataset.state = kind;
}

function showPresence() {
  if (!finished && !rejoining) show(remotes.size ? t.inRoom : t.alone);
}

function tell(text) {
  notice.textContent = text;
  notice.hidden = !text;
}

function headers() {
  return { Authorization: `Bearer ${me.secret}` };
}

/** Send the camera and microphone (asked for once; a rejoin sends the same stream again). */
async function publish() {
  if (!local) {
    try {
      local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch {
      show(t.noCamera, "warning");
      return;
    }
    document.getElementById("self-video").srcObject = local;
  }
  const session = new WhipPublisher(`${api}/participants/${me.id}/publish`, me.secret, {});
  publisher = session;
  await session.start(local);
  watchConnection(session);
}

/** Our sending connection failed or stayed disconnected: join again into the same seat. */
function watchConnection(session) {
  const pc = session.pc;
  if (!pc) return;
  let timer = null;
  pc.addEventListener("connectionstatechange", () => {
    clearTimeout(timer);
    if (publisher !== session || finished) return;
    if (pc.connectionState === "failed") rejoin();
    else if (pc.connectionState === "disconnected") timer = setTimeout(() => publisher === session && rejoin(), DROP_GRACE_MS);
  });
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

/** The host's buttons on someone's tile: lower their hand, ask them to mute, remove them. */
function hostActions(remote, participant) {
  if (!isHost) return;
  const actions = document.createElement("div");
  actions.className = "room-tile-actions";
  const lower = button(t.lowerHand, () => control(`others/${participant.id}/hand`, "DELETE"));
  lower.dataset.action = "lower-hand";
  const mute = button(t.askMute, () => control(`others/${participant.id}/mute`));
  mute.dataset.action = "mute";
  const remove = button(t.remove, () => control(`others/${participant.id}/remove`), "small danger");
  remove.dataset.action = "remove";
  actions.append(lower, mute, remove);
  remote.tile.append(actions);
  remote.lower = lower;
}

async function resync() {
  if (finished || rejoining) return;
  const list = await fetchJson(`${api}/participants?key=${encodeURIComponent(config.key)}`).catch(() => null);
  if (!list || finished || rejoining) return;
  const { participants, waiting, settings } = list;
  const present = new Set(participants.map((p) => p.id));
  if (me.waiting) {
    // Let in while this page's socket was down: the list has us.
    if (present.has(me.id)) await enter();
    return;
  }
  if (!present.has(me.id)) {
    rejoin(); // the server let our seat go while we were away: take it back if it is kept
    return;
  }
  host.applySettings(settings);
  host.syncLobby(waiting.filter((p) => p.id !== me.id));
  for (const id of remotes.ids()) if (!present.has(id)) remotes.drop(id);
  for (const participant of participants) await remotes.receive(participant);
}

/** Someone changed their name: their tile (and their screen's) says it at once. */
function rename(participant) {
  if (!remotes.rename(participant) && host.isWaiting(participant.id)) host.knock(participant);
}

/** Someone raised or lowered their hand: their tile shows it, our own too. */
function hand(participant) {
  if (participant.id === me.id) {
    self.tile.querySelector(".room-hand").hidden = !participant.hand;
    handButton.setAttribute("aria-pressed", String(participant.hand));
    handButton.textContent = participant.hand ? t.lowerHand : t.raiseHand;
    return;
  }
  const remote = remotes.get(participant.id);
  if (remote) tiles.showHand(remote, participant.hand);
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
  const remote = remotes.get(event.id || event.participant?.id);
  if (event.type === "joined") remotes.arrive(event.participant);
  else if (event.type === "waiting") {
    if (!mine) host.knock(event.participant);
  } else if (event.type === "admitted") {
    if (mine) enter();
    else {
      host.unknock(event.participant.id);
      remotes.arrive(event.participant);
    }
  } else if (event.type === "turned_away") {
    if (mine) finish(t.turnedAway, "ended");
    else host.unknock(event.id);
  } else if (event.type === "removed") {
    if (mine) finish(t.removed, "ended");
    else remotes.drop(event.id);
  } else if (event.type === "mute") {
    if (mine) muteMyself();
  } else if (event.type === "hand") hand(event.participant);
  else if (event.type === "settings") host.applySettings(event.settings);
  else if (event.type === "published" || event.type === "media") remotes.receive(event.participant);
  else if (event.type === "screen") remotes.receiveScreen(event.participant);
  else if (event.type === "speaking") {
    tiles.showSpeaking(grid, event.ids);
    layout.speaking(event.ids);
  } else if (event.type === "reconnecting") {
    if (mine) rejoin(); // the server lost our sending connection before we noticed
    else if (remote) tiles.showReconnecting(remote, true);
  } else if (event.type === "renamed") rename(event.participant);
  else if (event.type === "left") {
    if (mine) rejoin(); // our seat was let go while we were away: a new one
    remotes.drop(event.id);
    host.unknock(event.id);
  } else if (event.type === "ended") finish(t.ended, "ended");
}

function finish(text, kind) {
  if (finished) return;
  finished = true;
  closeChannel();
  remotes.dropAll();
  screenShare.stop();
  if (publisher) publisher.close();
  if (local) for (const track of local.getTracks()) track.stop();
  controls.hidden = true;
  host.hide();
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

/** Mute or unmute, camera off or on: our tracks follow, and the others' tiles are told. */
function toggle(button, kind, offLabel, onLabel) {
  button.addEventListener("click", () => {
    const tracks = local ? (kind === "audio" ? local.getAudioTracks() : local.getVideoTracks()) : [];
    const off = button.getAttribute("aria-pressed") !== "true";
    for (const track of tracks) track.enabled = !off;
    button.setAttribute("aria-pressed", String(off));
    button.textContent = off ? onLabel : offLabel;
    sayMediaState();
  });
}

function mediaState() {
  return {
    muted: microphoneButton.getAttribute("aria-pressed") === "true",
    camera_off: cameraButton.getAttribute("aria-pressed") === "true",
  };
}

function sayMediaState() {
  tiles.showMedia(self, mediaState());
  if (!me || me.waiting || finished) return;
  fetchJson(`${api}/participants/${me.id}/media`, { method: "PUT", headers: headers(), body: mediaState() }).catch(
    () => {},
  );
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

/** Our own tile: keyed by our id (for the speaking ring), our initials for when the camera is off. */
function seat() {
  self.tile.dataset.tile = me.id;
  self.avatar.textContent = tiles.initials(me.name);
  layout.mine = me.id;
}

/** In the room (at once, or once the host let us in from the lobby): send, and receive the others. */
async function enter() {
  if (!me.waiting && me.entered) return;
  me.waiting = false;
  me.entered = true;
  for (const element of INSIDE_ONLY) element.hidden = false;
  controls.hidden = false;
  seat();
  showPresence();
  await publish();
  if (mediaState().muted || mediaState().camera_off) sayMediaState();
  await resync();
}

const JOIN_REFUSALS = {
  "room.full": "full",
  "room.ended": "ended",
  "room.locked": "locked",
  "room.lobby_full": "lobbyFull",
};

/**
 * Our connection dropped: join again with the rejoin token (the same seat while the server keeps
 * it), send again and receive everyone again. Network errors are retried; a refusal ends the page.
 */
async function rejoin() {
  if (rejoining || finished || !me) return;
  rejoining = true;
  show(t.reconnecting, "waiting");
  if (publisher) publisher.close();
  publisher = null;
  remotes.pause();
  let again = null;
  while (!finished && !again) {
    try {
      again = await fetchJson(`${api}/participants`, {
        method: "POST",
        body: { key: config.key, name: me.named ? me.name : savedName(), rejoin: me.rejoin },
      });
    } catch (error) {
      if (error.status >= 400 && error.status < 500) {
        rejoining = false;
        finish(t[JOIN_REFUSALS[error.code]] || t.failed, "failed");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
  if (finished) return;
  if (again.id !== me.id) remotes.dropAll(); // the seat was gone: a new one, with the others anew
  const entered = me.entered && again.id === me.id;
  me = { ...again, entered };
  rejoining = false;
  if (me.waiting) {
    show(t.waiting, "waiting");
    return;
  }
  me.entered = true;
  seat();
  showPresence();
  await publish().catch(() => show(t.failed, "failed"));
  sayMediaState();
  await screenShare.restart();
  await resync();
}

async function join() {
  const name = savedName();
  try {
    me = await fetchJson(`${api}/participants`, { method: "POST", body: { key: config.key, name } });
  } catch (error) {
    finish(t[JOIN_REFUSALS[error.code]] || t.failed, "failed");
    return;
  }
  wireName();
  host.wire();
  closeChannel = subscribe(me.channel, {
    onevent: onEvent,
    // Whatever happened before the subscription was live (someone started sending between our
    // join and now), or while the socket was down, is read from the participant list (and by the
    // other parts of the page that follow the channel: the on-air control).
    onsubscribed: () => {
      document.dispatchEvent(new CustomEvent("expo:channel-subscribed"));
      resync();
    },
  });
  if (me.waiting) {
    for (const element of INSIDE_ONLY) element.hidden = true;
    controls.hidden = false; // to leave the lobby
    show(t.waiting, "waiting");
    return;
  }
  me.entered = true;
  seat();
  controls.hidden = false;
  showPresence();
  await publish();
  for (const participant of me.participants) await remotes.receive(participant);
}

toggle(microphoneButton, "audio", t.muteMicrophone, t.unmuteMicrophone);
toggle(cameraButton, "video", t.cameraOff, t.cameraOn);
document.getElementById("leave-button").addEventListener("click", leave);
handButton.addEventListener("click", async () => {
  const raised = handButton.getAttribute("aria-pressed") !== "true";
  try {
    hand(await fetchJson(`${api}/participants/${me.id}/hand`, { method: "PUT", headers: headers(), body: { raised } }));
  } catch {
    tell(t.actionFailed);
  }
});
screenButton.addEventListener("click", () => (screenShare.sharing ? screenShare.stop() : screenShare.start()));
document.getElementById("end-button")?.addEventListener("click", async () => {
  await fetchJson(`${api}/end`, { method: "POST", body: { key: config.key } }).catch(() => null);
  finish(t.ended, "ended");
});
window.addEventListener("pagehide", leaveOnClose);

if (!config.ended) {
  join().catch(() => finish(t.failed, "failed"));
}
