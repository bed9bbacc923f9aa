// The watch page's player: WHEP first (lowest delay), then the browser's own HLS player where it
// has one (the mass-audience path), retrying with back-off while the broadcast is live but not
// reaching this server; and the line under the player that says what is going on.

import { WhepPlayer } from "../webrtc.js";

const RETRY_MS = 15000;
const FIRST_RETRY_MS = 2000;

export class Player {
  /** `video`: the <video>; `stateLine`: the status line (may be missing); `t`: the page's strings. */
  constructor(video, stateLine, { whepUrl, hlsUrl, t }) {
    this.video = video;
    this.stateLine = stateLine;
    this.whepUrl = whepUrl;
    this.hlsUrl = hlsUrl;
    this.t = t;
    this.live = false;
    this.session = null; // the WhepPlayer while playing over WebRTC
    this.retryTimer = null;
    this.retryDelay = FIRST_RETRY_MS;
    video.addEventListener("error", () => this.onVideoError());
    video.addEventListener("playing", () => this.playing());
  }

  /** Show `text` under the player, or nothing when it is empty. */
  showState(text) {
    if (!this.stateLine) return;
    this.stateLine.textContent = text;
    this.stateLine.hidden = !text;
  }

  /** The broadcast is live: play it. */
  play() {
    this.live = true;
    this.connect();
  }

  /** The broadcast is not (or no longer) live: let go of it and say `text`. */
  stop(text) {
    this.live = false;
    clearTimeout(this.retryTimer);
    if (this.session) {
      // Only once the broadcast is over, when the server has hung up every viewer already.
      this.session.close();
      this.session = null;
    }
    this.video.removeAttribute("src");
    this.video.load();
    this.showState(text);
  }

  /** The page is going away: end the WHEP session, if any. */
  leave() {
    if (this.session) this.session.stop();
  }

  async connect() {
    if (this.session || !this.live) return;
    clearTimeout(this.retryTimer);
    this.showState(this.t.connecting);
    const candidate = new WhepPlayer(this.whepUrl, this.video, {
      onstate: (state) => {
        if (state === "playing") this.playing();
        if (state === "failed" && this.session === candidate) {
          this.session = null;
          candidate.close(); // the server ends a failed session itself
          this.scheduleRetry();
        }
      },
    });
    this.session = candidate;
    try {
      await candidate.start();
    } catch {
      this.session = null;
      if (!this.playHls()) {
        this.showState(this.t.offline);
        this.scheduleRetry();
      }
    }
  }

  playHls() {
    // Browsers that play HLS themselves (Safari, recent Chromium) get the mass-audience path.
    if (!this.video.canPlayType("application/vnd.apple.mpegurl")) return false;
    this.video.srcObject = null;
    this.video.src = this.hlsUrl;
    this.video.play().catch(() => undefined);
    return true;
  }

  onVideoError() {
    // The HLS playlist is missing or broken: nothing is reaching the server right now.
    if (!this.video.getAttribute("src") || !this.live) return;
    this.video.removeAttribute("src");
    this.showState(this.t.offline);
    this.scheduleRetry();
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    if (!this.live) return;
    this.retryTimer = setTimeout(() => this.connect(), this.retryDelay);
    // A broadcast that has just started has no HLS segment for a few seconds: retry soon at first,
    // then back off so that a crowd does not hammer a stream that is really offline.
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MS);
  }

  playing() {
    this.retryDelay = FIRST_RETRY_MS;
    this.showState("");
  }
}
