// The check-in desk: read a badge's QR code with the camera (BarcodeDetector, where the browser has
// it) or take the typed code, check it in over the API and say who came in (or since when they were).
import { ApiError, fetchJson } from "./api.js";

const desk = document.querySelector("[data-checkin]");
const form = desk.querySelector("[data-checkin-form]");
const input = form.querySelector("input[name=code]");
const result = desk.querySelector("[data-checkin-result]");
const t = desk.dataset;

function show(kind, text) {
  const p = document.createElement("p");
  p.className = `message ${kind} checkin-result`;
  p.textContent = text;
  result.replaceChildren(p);
}

function when(iso) {
  return iso.slice(0, 16).replace("T", " ") + " UTC";
}

async function checkIn(code) {
  let data;
  try {
    data = await fetchJson(desk.dataset.api, { method: "POST", body: { code } });
  } catch (error) {
    // The server's message says what is wrong with the code.
    show("error", (error instanceof ApiError && error.message) || t.tFailed);
    return;
  }
  const who = data.company ? `${data.name} · ${data.company}` : data.name;
  if (data.result === "already_checked_in") {
    show("success", `${t.tAlready} ${when(data.checked_in_at)}: ${who}`);
  } else {
    show("success", `${t.tCheckedIn}: ${who}`);
  }
  input.value = "";
  input.focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const code = input.value.trim();
  if (code) checkIn(code);
});

// Camera scanning: one code at a time, the same code not twice within a few seconds.
const scan = desk.querySelector("[data-scan]");
const video = desk.querySelector("[data-video]");
const note = desk.querySelector("[data-camera-note]");
if ("BarcodeDetector" in window && navigator.mediaDevices?.getUserMedia) {
  scan.hidden = false;
  scan.addEventListener("click", async () => {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream;
    video.hidden = false;
    scan.hidden = true;
    await video.play();
    let last = "";
    let lastAt = 0;
    const tick = async () => {
      const codes = await detector.detect(video).catch(() => []);
      const code = codes[0]?.rawValue;
      if (code && (code !== last || Date.now() - lastAt > 4000)) {
        last = code;
        lastAt = Date.now();
        await checkIn(code);
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
} else {
  note.textContent = t.tNoCamera;
}
