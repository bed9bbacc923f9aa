// WHEP playback (draft-ietf-wish-whep): one recvonly RTCPeerConnection, the SDP offer POSTed as
// application/sdp, the answer applied, and the session DELETEd at its Location on stop.
// No trickle ICE: the offer is sent once gathering is complete (or after a short wait), which
// every WHIP/WHEP server accepts.

const GATHER_TIMEOUT_MS = 2000;

/** An HTTP failure of the WHIP/WHEP exchange; `status` is the response status (0: network). */
export class SessionError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "SessionError";
    this.status = status;
  }
}

/** Resolves when ICE gathering completes, or after `timeoutMs` with what has been gathered. */
export function gatheringComplete(pc, timeoutMs = GATHER_TIMEOUT_MS) {
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

/**
 * Create the offer, POST it to `url` and apply the answer. Shared by WHIP and WHEP.
 * Returns the absolute session URL (the response's Location). Throws SessionError.
 */
export async function exchangeSdp(pc, url, headers = {}) {
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
  } catch (error) {
    throw new SessionError(0, String(error));
  }
  if (response.status !== 201) {
    throw new SessionError(response.status, await response.text().catch(() => ""));
  }
  const answer = await response.text();
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  const location = response.headers.get("Location");
  return location ? new URL(location, new URL(url, window.location.href)).href : null;
}

/** DELETE a WHIP/WHEP session; never throws (the server expires abandoned sessions anyway). */
export function endSession(location, headers = {}) {
  if (!location) return Promise.resolve();
  return fetch(location, { method: "DELETE", credentials: "same-origin", headers, keepalive: true })
    .then(() => undefined)
    .catch(() => undefined);
}

/**
 * Plays a WHEP stream into a <video>. Events on `onstate(state)`: "connecting", "playing",
 * "failed" (the connection dropped after it was up), "closed".
 */
export class WhepPlayer {
  constructor(url, video, { headers = {}, onstate = () => {} } = {}) {
    this.url = url;
    this.video = video;
    this.headers = headers;
    this.onstate = onstate;
    this.pc = null;
    this.location = null;
  }

  /** Negotiate and start playing. Throws SessionError (e.g. status 404: nothing to play). */
  async start() {
    this.onstate("connecting");
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const media = new MediaStream();
    pc.addEventListener("track", (event) => {
      media.addTrack(event.track);
      if (this.video.srcObject !== media) this.video.srcObject = media;
      this.video.play().catch(() => undefined); // autoplay may wait for a click; the controls remain
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected") this.onstate("playing");
      if (pc.connectionState === "failed") this.onstate("failed");
    });
    try {
      this.location = await exchangeSdp(pc, this.url, this.headers);
    } catch (error) {
      pc.close();
      this.pc = null;
      throw error;
    }
  }

  /** Leave: DELETE the session, then close the connection. */
  async stop() {
    const location = this.location;
    this.location = null;
    // DELETE before closing, so that the server ends the session it still knows.
    await endSession(location, this.headers);
    this.close();
  }

  /**
   * Close the connection without a DELETE: for sessions the server has ended itself (the
   * broadcast ended, or the connection failed), where a DELETE would only find nothing.
   */
  close() {
    this.location = null;
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
    this.video.srcObject = null;
    this.onstate("closed");
  }
}
