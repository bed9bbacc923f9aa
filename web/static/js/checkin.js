// The check-in desk: read a badge's QR code with the camera, take a typed code, or find the visitor
// by name; check them in over the API and say it in colour and sound: green and a high tone for
// "checked in", amber and two low tones for "already in" (with when and by whom), red for a refusal.
// The camera works in every browser: BarcodeDetector reads the code where the browser has it,
// otherwise a few downscaled frames a second go to the server, which reads them (zxing-cpp).
import { ApiError, csrfToken, errorFrom, fetchJson } from "./api.js";

const desk = document.querySelector("[data-checkin]");
const form = desk.querySelector("[data-checkin-form]");
const input = form.querySelector("input[name=code]");
const result = desk.querySelector("[data-checkin-result]");
const t = desk.dataset;

// Sounds -------------------------------------------------------------------------------------------
let audio = null;

/** Short tones from WebAudio: [frequency Hz, start s, length s] each; no audio files. */
function tones(notes, type = "sine") {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    for (const [frequency, start, length] of notes) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = type;
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + start);
      gain.gain.exponentialRampToValueAtTime(0.25, now + start + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + start + length);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + start);
      osc.stop(now + start + length + 0.02);
    }
  } catch {
    // no sound: the colour still says it
  }
}

const SOUNDS = {
  checked_in: () => tones([[1046, 0, 0.18]]),
  already: () => tones([[523, 0, 0.14], [392, 0.18, 0.2]], "triangle"),
  invalid: () => tones([[180, 0, 0.35]], "square"),
};

// Showing an outcome -------------------------------------------------------------------------------
function line(className, text) {
  const span = document.createElement(className === "checkin-verdict" ? "strong" : "span");
  span.className = className;
  span.textContent = text;
  return span;
}

function when(iso) {
  return iso.slice(0, 16).replace("T", " ");
}

function show(kind, verdict, who = "", detail = "") {
  const p = document.createElement("p");
  p.className = `message checkin-result ${kind === "checked_in" ? "success" : kind === "already" ? "already" : "error"}`;
  p.dataset.outcome = kind;
  p.setAttribute("role", kind === "invalid" ? "alert" : "status");
  p.append(line("checkin-verdict", verdict));
  if (who) p.append(line("checkin-who", who));
  if (detail) p.append(line("checkin-when", detail));
  result.replaceChildren(p);
  SOUNDS[kind]();
}

function showCheckIn(data) {
  const who = data.company ? `${data.name} · ${data.company}` : data.name;
  if (data.result === "already_checked_in") {
    let detail = t.tFirst.replace("{time}", when(data.checked_in_at));
    if (data.checked_in_by) detail += ` · ${t.tBy.replace("{name}", data.checked_in_by)}`;
    show("already", t.tAlready, who, detail);
  } else {
    show("checked_in", t.tCheckedIn, who);
  }
}

const errors = JSON.parse(t.errors || "{}");

function showError(error) {
  // What is wrong with the code, in the page's language when the page knows the error's code.
  const said = error instanceof ApiError ? errors[error.code] || error.message : "";
  show("invalid", t.tInvalid, "", said || t.tFailed);
}

async function checkIn(code) {
  try {
    showCheckIn(await fetchJson(t.api, { method: "POST", body: { code } }));
    input.value = "";
  } catch (error) {
    showError(error);
  }
  input.focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const code = input.value.trim();
  if (code) checkIn(code);
});

// Finding a visitor by name ------------------------------------------------------------------------
const search = desk.querySelector("[data-desk-search]");
const query = search.querySelector("input[name=q]");
const list = desk.querySelector("[data-desk-results]");
let asked = 0;

function row(item) {
  const li = document.createElement("li");
  li.className = "desk-row";
  li.dataset.status = item.status;
  const person = document.createElement("div");
  person.className = "desk-person";
  const name = document.createElement("strong");
  name.textContent = item.name;
  const email = document.createElement("span");
  email.className = "muted";
  email.textContent = item.email;
  person.append(name, item.company ? ` · ${item.company}` : "", document.createElement("br"), email);
  const state = document.createElement("div");
  state.className = "desk-state";
  const pill = document.createElement("span");
  if (item.checked_in_at) {
    li.dataset.in = "";
    pill.className = "badge checked-in";
    pill.textContent = t.tIn.replace("{time}", when(item.checked_in_at));
  } else {
    pill.className = `badge reg-status-${item.status}`;
    pill.textContent = t[`tStatus${item.status[0].toUpperCase()}${item.status.slice(1)}`] || item.status;
  }
  state.append(pill);
  li.append(person, state);
  if (item.status === "approved") {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = t.tCheckIn;
    button.addEventListener("click", () => checkInRow(item));
    li.append(button);
  }
  return li;
}

async function checkInRow(item) {
  if (item.checked_in_at && !window.confirm(t.tConfirmAgain.replace("{name}", item.name))) return;
  try {
    showCheckIn(await fetchJson(`${t.registrationApi}${item.registration_id}/check-in`, { method: "POST" }));
  } catch (error) {
    showError(error);
  }
  find();
}

async function find() {
  const q = query.value.trim();
  const mine = ++asked;
  if (q.length < 2) {
    list.replaceChildren();
    return;
  }
  let data;
  try {
    data = await fetchJson(`${t.searchApi}?q=${encodeURIComponent(q)}`);
  } catch (error) {
    if (mine === asked) showError(error);
    return;
  }
  if (mine !== asked) return; // a later search answered, or will
  desk.querySelector("[data-desk-none]")?.remove();
  if (data.items.length === 0) {
    const none = document.createElement("li");
    none.className = "muted";
    none.textContent = t.tNone;
    list.replaceChildren(none);
  } else {
    list.replaceChildren(...data.items.map(row));
  }
}

let typing = null;
query.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(find, 200);
});
search.addEventListener("submit", (event) => {
  event.preventDefault();
  find();
});

// The camera ---------------------------------------------------------------------------------------
const scan = desk.querySelector("[data-scan]");
const stop = desk.querySelector("[data-scan-stop]");
const video = desk.querySelector("[data-video]");
const note = desk.querySelector("[data-camera-note]");
const FRAME_WIDTH = 640; // enough for a badge held up to the camera, small to send
const PAUSE_AFTER_RESULT = 2500; // ms: the badge is still in front of the camera; let staff move on
let stream = null;

/** A reader of QR codes in video frames: the browser's own, or the server's. */
async function makeReader() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return async () => {
          const codes = await detector.detect(video).catch(() => []);
          const code = codes[0]?.rawValue;
          if (!code) return false;
          await checkIn(code);
          return true;
        };
      }
    } catch {
      // fall through to the server
    }
  }
  const canvas = document.createElement("canvas");
  return async () => {
    if (!video.videoWidth) return false;
    const scale = Math.min(1, FRAME_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    if (!blob) return false;
    let response;
    try {
      response = await fetch(t.scanApi, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "image/jpeg", "X-CSRF-Token": csrfToken() },
        body: blob,
      });
    } catch {
      return false; // the network hiccuped: the next frame tries again
    }
    if (response.status === 429) {
      const error = await errorFrom(response);
      await new Promise((resolve) => setTimeout(resolve, (error.retryAfter || 1) * 1000));
      return false;
    }
    if (!response.ok) {
      showError(await errorFrom(response));
      return true;
    }
    const data = await response.json();
    if (!data.found) return false;
    showCheckIn(data.check_in);
    return true;
  };
}

async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch {
    note.textContent = t.tCameraRefused;
    return;
  }
  video.srcObject = stream;
  video.hidden = false;
  scan.hidden = true;
  stop.hidden = false;
  note.textContent = t.tScanning;
  await video.play();
  const read = await makeReader();
  // One frame at a time: the next is read only when the answer to this one is in.
  const loop = async () => {
    if (!stream) return;
    const done = await read();
    setTimeout(loop, done ? PAUSE_AFTER_RESULT : 400);
  };
  loop();
}

function stopCamera() {
  for (const track of stream?.getTracks() || []) track.stop();
  stream = null;
  video.srcObject = null;
  video.hidden = true;
  stop.hidden = true;
  scan.hidden = false;
  note.textContent = "";
}

if (navigator.mediaDevices?.getUserMedia) {
  scan.hidden = false;
  scan.addEventListener("click", startCamera);
  stop.addEventListener("click", stopCamera);
} else {
  note.textContent = t.tNoCamera;
}
