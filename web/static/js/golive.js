// The Go-live page: pick camera or screen (and the microphone), preview, publish over WHIP,
// follow the stream's status (the buttons and the reopen form follow it without a reload), end
// or reopen the broadcast, regenerate the key shown for OBS; and, from the watch page's modules,
// the live viewer count and the chat and Q&A panel with the managers' moderation.
// "Rehearse" publishes with ?rehearsal=1: the stream stays scheduled and private (viewers see
// "not started") until "Go live" makes it public, the same connection still sending.

import { ApiError, fetchJson } from "./api.js";
import { subscribe } from "./channel.js";
import { setViewers } from "./watch/audience.js";
import { catchUp, onPanelEvent, wirePanel } from "./watch/panel.js";
import { WhipPublisher } from "./webrtc.js";

const config = JSON.parse(document.getElementById("golive-config").textContent);
const t = config.t;
const $ = (id) => document.getElementById(id);

const form = $("golive-form");
const preview = $("preview");
const state = $("publish-state");
const startButton = $("start-button");
const stopButton = $("stop-button");
const endButton = $("end-button");
const reopenForm = $("reopen-form");
const rehearseButton = $("rehearse-button");
const goLiveButton = $("golive-button");
let media = null;
let publisher = null;
let status = config.status;
let rehearsing = config.rehearsing; // a rehearsal is on (from this page, or OBS when it loaded)

function setState(name, text = t[name]) {
  state.dataset.state = name;
  state.textContent = text;
}

/** Show the broadcast's status: the badge, the viewer count, and the buttons that fit it. */
function setStatus(next) {
  status = next;
  const badge = $("stream-status");
  badge.dataset.status = next;
  badge.textContent = t[`status${next[0].toUpperCase()}${next.slice(1)}`] || next;
  $("viewers").hidden = next !== "live";
  if (next !== "live") setViewers(0);
  reopenForm.hidden = next !== "ended";
  endButton.hidden = next !== "live";
  if (next !== "scheduled") rehearsing = false;
  // Taken live from another tab while this one sends the rehearsal: it is the broadcast now.
  if (next === "live" && publisher && state.dataset.state === "rehearsing") setState("live");
  showRehearsal();
  startButton.disabled = next === "ended" || publisher !== null;
  if (next === "ended" && publisher) {
    // Ended elsewhere (a manager's End, the other tab): the server has hung up already.
    const current = publisher;
    publisher = null;
    current.close();
    stopButton.disabled = true;
    releaseMedia();
    setState("stopped");
  }
}

/** "Rehearse" before the broadcast has started; "Go live" while a rehearsal is on. */
function showRehearsal() {
  rehearseButton.hidden = status !== "scheduled" || rehearsing; // "Go live now" takes its place
  $("rehearse-hint").hidden = status !== "scheduled";
  $("rehearsal-server").hidden = status !== "scheduled"; // OBS's rehearsal server, before the start
  rehearseButton.disabled = publisher !== null;
  goLiveButton.hidden = !(status === "scheduled" && rehearsing);
}

function releaseMedia() {
  if (media) for (const track of media.getTracks()) track.stop();
  media = null;
  preview.srcObject = null;
}

/** Camera or screen, plus the microphone when ticked, as one MediaStream. */
async function openMedia() {
  releaseMedia();
  const source = form.elements.source.value;
  const microphone = $("use-microphone").checked;
  let stream;
  if (source === "screen") {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    if (microphone) {
      const voice = await navigator.mediaDevices.getUserMedia({ audio: true });
      for (const track of voice.getAudioTracks()) stream.addTrack(track);
    }
  } else {
    stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: microphone });
  }
  media = stream;
  preview.srcObject = stream;
  preview.play().catch(() => undefined);
  // Ending a screen share from the browser's own bar stops the broadcast too.
  for (const track of stream.getVideoTracks()) track.addEventListener("ended", () => stop());
  return stream;
}

async function showPreview() {
  try {
    await openMedia();
    if (!publisher) setState("preview");
  } catch {
    setState("noMedia");
  }
}

/** What to say when the WHIP request was refused (an ApiError). */
function failureText(error) {
  if (error.status === 401) return t.badKey;
  // 409 is a second publisher, or a stream that has ended (only an organizer can reopen it).
  if (error.status === 409 && error.code === "stream.live") return t.alreadyLive;
  if (error.status === 409) return error.code === "stream.ended" ? t.ended : t.busy;
  return t.error;
}

/** Publish: live for everyone, or (`rehearsal`) a private rehearsal that "Go live" makes public. */
async function start(rehearsal = false) {
  if (status === "ended" || (rehearsal && status !== "scheduled")) return;
  startButton.disabled = true;
  rehearseButton.disabled = true;
  try {
    const stream = media || (await openMedia());
    const key = $("stream-key").textContent.trim();
    const url = rehearsal ? `${config.whipUrl}?rehearsal=1` : config.whipUrl;
    publisher = new WhipPublisher(url, key, {
      onstate: (name) => {
        if (name === "live") setState(rehearsing ? "rehearsing" : "live");
        if (name === "failed") {
          setState("failed");
          stop();
        }
      },
    });
    setState("connecting");
    rehearsing = rehearsal;
    await publisher.start(stream);
    stopButton.disabled = false;
    showRehearsal();
  } catch (error) {
    publisher = null;
    if (rehearsal) rehearsing = false;
    startButton.disabled = status === "ended";
    showRehearsal();
    setState("error", error instanceof ApiError ? failureText(error) : t.noMedia);
  }
}

/** The rehearsal becomes the broadcast: live for everyone, without reconnecting. */
async function goLive() {
  goLiveButton.disabled = true;
  try {
    const body = await fetchJson(`/api/streams/${config.stream}/golive`, { method: "POST" });
    rehearsing = false;
    setStatus(body.status);
    setState("live");
  } catch (error) {
    if (error.code === "stream.not_rehearsing") {
      rehearsing = false;
      showRehearsal();
      setState("error", t.notRehearsing);
    } else {
      setState("error", t.actionFailed);
    }
  } finally {
    goLiveButton.disabled = false;
  }
}

async function stop() {
  const current = publisher;
  publisher = null;
  stopButton.disabled = true;
  startButton.disabled = status === "ended";
  const rehearsal = rehearsing && status === "scheduled";
  rehearsing = false;
  showRehearsal();
  if (current) {
    await current.stop();
    // A rehearsal that stops leaves the broadcast scheduled: nobody saw it.
    setState(rehearsal ? "rehearsalStopped" : "stopped");
  }
  releaseMedia();
}

function wireKey() {
  const regenerate = $("regenerate-key");
  regenerate.hidden = false;
  regenerate.addEventListener("click", async () => {
    if (!window.confirm(t.confirmRegenerate)) return;
    const body = await fetchJson(`/api/streams/${config.stream}/key`, { method: "POST" }).catch(() => null);
    if (body && body.key) $("stream-key").textContent = body.key;
  });
}

/** "End the broadcast" (whatever publishes it, OBS too) and "Reopen" without leaving the page. */
function wireLifecycle() {
  endButton.addEventListener("click", async () => {
    if (!window.confirm(t.confirmEnd)) return;
    const body = await fetchJson(`/api/streams/${config.stream}/end`, { method: "POST" }).catch(() => null);
    if (body) setStatus(body.status);
    else setState("error", t.actionFailed);
  });
  reopenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = await fetchJson(`/api/streams/${config.stream}/reopen`, { method: "POST" }).catch(() => null);
    if (!body) {
      setState("error", t.actionFailed);
      return;
    }
    setStatus(body.status);
    setState("idle", t.reopened);
  });
}

/** After a reconnect: the status may have changed while the socket was down. */
async function refreshStatus() {
  const stats = await fetchJson(`/api/streams/${config.stream}/stats`).catch(() => null);
  if (!stats) return;
  if (stats.status !== status) setStatus(stats.status);
  if (stats.status === "live") setViewers(stats.live_viewers);
}

form.hidden = false;
$("preview-button").addEventListener("click", showPreview);
startButton.addEventListener("click", () => start(false));
rehearseButton.addEventListener("click", () => start(true));
goLiveButton.addEventListener("click", goLive);
showRehearsal();
if (rehearsing) setState("rehearsing", t.rehearsingElsewhere);
stopButton.addEventListener("click", stop);
wireKey();
wireLifecycle();
wirePanel();
subscribe(config.channel, {
  onevent: (data) => {
    if (onPanelEvent(data)) return;
    if (data.kind === "status" && data.status !== status) setStatus(data.status);
    if (data.kind === "viewers" && status === "live") setViewers(data.live_viewers);
  },
  onsubscribed: (again) => {
    document.body.dataset.channel = "subscribed";
    if (again) {
      catchUp();
      refreshStatus();
    }
  },
});
window.addEventListener("pagehide", () => {
  if (publisher) publisher.stop();
});
