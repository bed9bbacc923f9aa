// WebRTC sessions negotiated over HTTP the way WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) do
// it: one RTCPeerConnection, its SDP offer POSTed as application/sdp, the answer applied, and the
// session DELETEd at its Location to end it. Go-live publishes with WhipPublisher, the watch page
// plays with WhepPlayer, and a room uses both against its own per-participant endpoints, which
// speak the same exchange with the participant's secret as bearer token.
// No trickle ICE: the offer is sent once gathering is complete (or after a short wait), which
// every WHIP/WHEP server accepts. HTTP failures are thrown as api.js's ApiError.

import { ApiError, errorFrom } from "./api.js";

const GATHER_TIMEOUT_MS = 2000;

/** Resolves when ICE gathering completes, or after `timeoutMs` with what has been gathered. */
function gatheringComplete(pc, timeoutMs = GATHER_TIMEOUT_MS) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") {
      resolve();
      return;
    }
    const timer = setTimeout(finish, timeoutMs);
    function finish() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") finish();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/** Create the offer, POST it to `url` and apply the answer; the absolute Location, or null. */
async function exchangeSdp(pc, url, headers) {
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { ...headers, "Content-Type": "application/sdp" },
      body: pc.localDescription.sdp,
    });
  } catch {
    throw new ApiError(0, "network");
  }
  if (response.status !== 201) throw await errorFrom(response);
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  const location = response.headers.get("Location");
  return location ? new URL(location, new URL(url, window.location.href)).href : null;
}

/** DELETE a session; never throws (the server expires abandoned sessions anyway). */
function endSession(location, headers) {
  if (!location) return Promise.resolve();
  return fetch(location, { method: "DELETE", credentials: "same-origin", headers, keepalive: true })
    .then(() => undefined)
    .catch(() => undefined);
}

/** Put H.264 first among the codecs the browser can send (HLS then needs no video re-encode). */
function preferH264(transceiver) {
  if (typeof transceiver.setCodecPreferences !== "function" || !window.RTCRtpSender.getCapabilities) return;
  const capabilities = RTCRtpSender.getCapabilities("video");
  if (!capabilities) return;
  const h264 = capabilities.codecs.filter((c) => c.mimeType.toLowerCase() === "video/h264");
  if (h264.length === 0) return;
  const others = capabilities.codecs.filter((c) => c.mimeType.toLowerCase() !== "video/h264");
  transceiver.setCodecPreferences([...h264, ...others]);
}

/**
 * The life cycle that publishing and playing share. `onstate(state)` hears "connecting", the
 * subclass's name for "connected", and "failed" (the connection dropped after it was up).
 */
class Session {
  constructor(url, { headers = {}, onstate = () => {} } = {}) {
    this.url = url;
    this.headers = headers;
    this.onstate = onstate;
    this.pc = null;
    this.location = null;
  }

  /** Create the connection, let `setUp(pc)` add its transceivers, negotiate. Throws ApiError. */
  async open(setUp, connected) {
    this.onstate("connecting");
    const pc = new RTCPeerConnection();
    this.pc = pc;
    setUp(pc);
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected") this.onstate(connected);
      if (pc.connectionState === "failed") this.onstate("failed");
    });
    try {
      this.location = await exchangeSdp(pc, this.url, this.headers);
    } catch (error) {
      pc.close();
      if (this.pc === pc) this.pc = null;
      throw error;
    }
  }

  /** End the session: DELETE it at its Location, then close the connection. */
  async stop() {
    const location = this.location;
    this.location = null;
    // DELETE before closing: a connection that closes first looks to the server like a peer that
    // dropped out (a publisher is kept live for a while in case it reconnects).
    await endSession(location, this.headers);
    this.close();
  }

  /**
   * Close the connection without a DELETE: for sessions the server has ended itself (the
   * broadcast ended, the connection failed) or that end with something else (leaving a room).
   */
  close() {
    this.location = null;
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
  }
}

/**
 * Publishes a MediaStream, sendonly, with `token` as bearer token (a stream key, a room
 * participant's secret). States: "connecting", "live", "failed", and "stopped" after stop().
 */
export class WhipPublisher extends Session {
  constructor(url, token, { onstate } = {}) {
    super(url, { headers: { Authorization: `Bearer ${token}` }, onstate });
  }

  /** Negotiate and start sending `stream`'s tracks. Throws ApiError (401 bad key, 409 busy). */
  start(stream) {
    return this.open((pc) => {
      for (const track of stream.getTracks()) {
        const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
        if (track.kind === "video") preferH264(transceiver);
      }
    }, "live");
  }

  async stop() {
    await super.stop();
    this.onstate("stopped");
  }
}

/**
 * Plays a recvonly session (video and audio) into a <video>. `play(video)` starts playback once
 * media arrives (by default: try, and leave the controls to the viewer if autoplay is refused).
 * States: "connecting", "playing", "failed", and "closed" once stopped or closed.
 */
export class WhepPlayer extends Session {
  constructor(url, video, { headers = {}, onstate, play = (v) => v.play().catch(() => undefined) } = {}) {
    super(url, { headers, onstate });
    this.video = video;
    this.play = play;
  }

  /** Negotiate and start playing. Throws ApiError (e.g. status 404: nothing to play). */
  start() {
    return this.open((pc) => {
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addTransceiver("audio", { direction: "recvonly" });
      const media = new MediaStream();
      pc.addEventListener("track", (event) => {
        media.addTrack(event.track);
        if (this.video.srcObject !== media) this.video.srcObject = media;
        this.play(this.video);
      });
    }, "playing");
  }

  close() {
    super.close();
    this.video.srcObject = null;
    this.onstate("closed");
  }
}
