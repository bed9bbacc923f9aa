// The Go-live page: pick camera or screen (and the microphone), preview, publish over WHIP,
// follow the stream's status, and regenerate the key shown for OBS.

import { ApiError, fetchJson } from "./api.js";
import { subscribe } from "./channel.js";
import { WhipPublisher } from "./webrtc.js";

const config = JSON.parse(document.getElementById("golive-config").textContent);
const t = config.t;
const $ = (id) => document.getElementById(id);

const form = $("golive-form");
const preview = $("preview");
const state = $("publish-state");
const startButton = $("start-button");
const stopButton = $("stop-button");
let media = null;
let publisher = null;

function setState(name, text = t[name]) {
  state.dataset.state = name;
  state.textContent = text;
}

function setStatus(status) {
  const badge = $("stream-status");
  badge.dataset.status = status;
  badge.textContent = t[`status${status[0].toUpperCase()}${status.slice(1)}`] || status;
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
  if (error.status === 409) return error.code === "stream.ended" ? t.ended : t.busy;
  return t.error;
}

async function start() {
  startButton.disabled = true;
  try {
    const stream = media || (await openMedia());
    const key = $("stream-key").textContent.trim();
    publisher = new WhipPublisher(config.whipUrl, key, {
      onstate: (name) => {
        if (name === "live") setState("live");
        if (name === "failed") {
          setState("failed");
          stop();
        }
      },
    });
    setState("connecting");
    await publisher.start(stream);
    stopButton.disabled = false;
  } catch (error) {
    publisher = null;
    startButton.disabled = false;
    setState("error", error instanceof ApiError ? failureText(error) : t.noMedia);
  }
}

async function stop() {
  const current = publisher;
  publisher = null;
  stopButton.disabled = true;
  startButton.disabled = false;
  if (current) {
    await current.stop();
    setState("stopped");
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

form.hidden = false;
$("preview-button").addEventListener("click", showPreview);
startButton.addEventListener("click", start);
stopButton.addEventListener("click", stop);
wireKey();
subscribe(`stream:${config.stream}`, {
  onevent: (data) => {
    if (data.kind === "status") setStatus(data.status);
  },
});
window.addEventListener("pagehide", () => {
  if (publisher) publisher.stop();
});
