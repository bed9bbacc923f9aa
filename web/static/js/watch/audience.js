// The watch page's audience: the live viewer count, kept fresh by presence heartbeats while the
// broadcast is live (and a beacon when the page goes away), likes, and registering for a
// broadcast that has not started.

import { fetchJson } from "../api.js";
import { $, api, t } from "./page.js";

const HEARTBEAT_MS = 5000;

let heartbeatTimer = null;

export function setViewers(count) {
  $("viewer-count").textContent = new Intl.NumberFormat(document.documentElement.lang || undefined).format(count);
}

export function setLikes(count) {
  $("like-count").textContent = String(count);
}

async function heartbeat() {
  // Offline for a moment: the next beat tries again.
  const reply = await fetchJson(`${api}/heartbeat`, { method: "POST" }).catch(() => null);
  if (reply) setViewers(reply.live_viewers);
}

export function startHeartbeats() {
  if (heartbeatTimer) return;
  heartbeat();
  heartbeatTimer = setInterval(heartbeat, HEARTBEAT_MS);
}

export function stopHeartbeats() {
  clearInterval(heartbeatTimer);
  heartbeatTimer = null;
}

/** The page is going away: count this viewer out at once rather than when heartbeats lapse. */
export function leave() {
  navigator.sendBeacon(`${api}/leave`);
}

export function wireLikes() {
  const like = $("like-button");
  if (!like) return;
  like.hidden = false;
  like.addEventListener("click", async () => {
    const reply = await fetchJson(`${api}/like`, { method: "POST" }).catch(() => null);
    if (reply) setLikes(reply.likes);
  });
}

export function wireRegister() {
  const register = $("register-button");
  if (!register) return;
  register.hidden = false;
  register.addEventListener("click", async () => {
    try {
      await fetchJson(`${api}/register`, { method: "POST" });
    } catch {
      return; // the button stays, to try again
    }
    const done = document.createElement("span");
    done.className = "badge";
    done.id = "registered";
    done.textContent = t.registered;
    register.replaceWith(done);
  });
}
