// The host's "Go on air" control of a room page (API: streaming/on_air_api.py). The room feeds
// one of the expo's broadcasts, shown to its WHEP and HLS viewers; the host picks whose picture
// and sound are on air (or "automatic": whoever speaks) and takes the room off air, which ends the
// broadcast. The state is read once at start, after each action, and again when the room's
// realtime channel (followed by room.js, re-dispatched as "expo:channel-event") says the room went
// on or off air or who sends media changed (the choices of the feed), or when that channel was
// (re)subscribed and may have missed events.

import { fetchJson, oneAtATime } from "./api.js";

const config = JSON.parse(document.getElementById("on-air-config").textContent);
const t = config.t;
const api = `/api/rooms/${config.room}/on-air`;
const panel = document.getElementById("room-on-air");
const status = document.getElementById("on-air-state");
const start = document.getElementById("on-air-start");
const live = document.getElementById("on-air-live");
const streams = document.getElementById("on-air-stream");
const feed = document.getElementById("on-air-feed");
const watch = document.getElementById("on-air-watch");
// Channel events after which the state (and the list of feeds) is read again.
const CHANGES = new Set(["on_air", "published", "left", "removed", "renamed"]);
const MESSAGES = {
  "on_air.empty": "empty",
  "on_air.busy": "busy",
  "stream.publisher_connected": "busy",
  "stream.live": "busy",
  "stream.forbidden": "forbidden",
  "room.not_publishing": "notSending",
};

let signedIn = config.signedIn;

function tell(text, kind = "ok") {
  status.textContent = text;
  status.dataset.state = kind;
}

function failed(error) {
  if (error.status === 401) signedIn = false;
  tell(error.status === 401 ? t.signIn : t[MESSAGES[error.code]] || t.failed, "error");
}

function option(value, text, selected) {
  const item = document.createElement("option");
  item.value = value;
  item.textContent = text;
  item.selected = selected;
  return item;
}

function label(participant) {
  if (participant.named) return participant.name;
  return participant.role === "host" ? t.host : t.guest.replace("{n}", participant.number);
}

async function showFeeds(state) {
  const listed = await fetchJson(`/api/rooms/${config.room}/participants?key=${encodeURIComponent(config.key)}`);
  const keep = [feed.options[0]];
  keep[0].selected = state.feed === "auto";
  for (const participant of listed.participants.filter((p) => p.publishing)) {
    keep.push(option(participant.id, label(participant), participant.id === state.feed));
  }
  feed.replaceChildren(...keep);
}

function showStreams(state) {
  const keep = [streams.options[0]];
  for (const stream of state.streams) {
    keep.push(option(String(stream.id), stream.title, stream.id === state.suggested));
  }
  streams.replaceChildren(...keep);
}

async function show(state) {
  panel.dataset.state = state.on_air ? "on" : "off";
  start.hidden = state.on_air;
  live.hidden = !state.on_air;
  if (state.on_air) {
    watch.href = `/watch/${state.stream_id}`; // this site's own page, whatever the public URL
    await showFeeds(state);
    if (status.dataset.state !== "error") tell(t.on);
  } else {
    showStreams(state);
    if (status.dataset.state !== "error") tell(signedIn ? t.off : t.signIn);
  }
}

// One read at a time; a change heard during a read brings one more read after it.
const refresh = oneAtATime(async () => {
  try {
    await show(await fetchJson(`${api}?key=${encodeURIComponent(config.key)}`));
  } catch (error) {
    failed(error);
  }
});

async function act(url, method, body) {
  status.dataset.state = "";
  try {
    await show(await fetchJson(url, { method, body: { key: config.key, ...body } }));
  } catch (error) {
    failed(error);
  }
}

document.getElementById("on-air-go").addEventListener("click", () => {
  const chosen = streams.value ? { stream_id: Number(streams.value) } : {};
  act(api, "PUT", chosen);
});
document.getElementById("on-air-end").addEventListener("click", () => act(`${api}/end`, "POST", {}));
feed.addEventListener("change", () => act(`${api}/feed`, "PUT", { feed: feed.value }));

document.addEventListener("expo:channel-event", (event) => {
  if (CHANGES.has((event.detail || {}).type)) refresh();
});
document.addEventListener("expo:channel-subscribed", () => refresh());
refresh();
