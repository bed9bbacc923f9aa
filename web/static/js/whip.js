// WHIP publishing (RFC 9725): sendonly tracks, H.264 preferred so that HLS packaging needs no
// video re-encode, the offer POSTed with the stream key as bearer token, DELETE on stop.

import { endSession, exchangeSdp } from "./whep.js";

/** Put H.264 first among the codecs the browser can send, keeping the rest as fallbacks. */
export function preferH264(transceiver) {
  if (typeof transceiver.setCodecPreferences !== "function" || !window.RTCRtpSender.getCapabilities) return;
  const capabilities = RTCRtpSender.getCapabilities("video");
  if (!capabilities) return;
  const h264 = capabilities.codecs.filter((c) => c.mimeType.toLowerCase() === "video/h264");
  if (h264.length === 0) return;
  const others = capabilities.codecs.filter((c) => c.mimeType.toLowerCase() !== "video/h264");
  transceiver.setCodecPreferences([...h264, ...others]);
}

/**
 * Publishes a MediaStream over WHIP. `onstate(state)` receives "connecting", "live", "failed"
 * (the connection dropped) and "stopped".
 */
export class WhipPublisher {
  constructor(url, key, { onstate = () => {} } = {}) {
    this.url = url;
    this.key = key;
    this.onstate = onstate;
    this.pc = null;
    this.location = null;
  }

  get headers() {
    return { Authorization: `Bearer ${this.key}` };
  }

  /** Negotiate and start sending `stream`'s tracks. Throws SessionError (401 bad key, 409 busy). */
  async start(stream) {
    this.onstate("connecting");
    const pc = new RTCPeerConnection();
    this.pc = pc;
    for (const track of stream.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      if (track.kind === "video") preferH264(transceiver);
    }
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected") this.onstate("live");
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

  /** End the session (the DELETE ends the broadcast on the server), then stop sending. */
  async stop() {
    const location = this.location;
    const pc = this.pc;
    this.location = null;
    this.pc = null;
    // DELETE before closing: a connection that closes first looks to the server like an encoder
    // that dropped out, which it keeps live for a while in case it reconnects.
    await endSession(location, this.headers);
    if (pc) pc.close();
    this.onstate("stopped");
  }
}
