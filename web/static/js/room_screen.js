// Screen sharing in a room (room.js; API: streaming/room_media_api.py). Our screen goes to the
// server on a sending connection of its own, beside the camera's, and stops with our button or
// the browser's own "Stop sharing". Others' screens come back each on a receiving connection of
// its own, into a tile labelled "<name> (screen)".

import { WhepPlayer, WhipPublisher } from "./webrtc.js";

export class ScreenShare {
  /**
   * `session()` is `{api, me}` now (the participant may rejoin with a new seat); `ontile(stream)`
   * shows our own screen (null: stopped); `onstate(sharing)` follows the button.
   */
  constructor({ session, ontile, onstate, onerror }) {
    this.session = session;
    this.ontile = ontile;
    this.onstate = onstate;
    this.onerror = onerror;
    this.publisher = null;
    this.stream = null;
  }

  get sharing() {
    return this.publisher !== null;
  }

  async start() {
    if (this.publisher) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch {
      return; // the person chose not to share: nothing to say
    }
    const { api, me } = this.session();
    const publisher = new WhipPublisher(`${api}/participants/${me.id}/screen`, me.secret, {
      onstate: (name) => {
        if (name === "failed" && this.publisher === publisher) this.stop();
      },
    });
    this.publisher = publisher;
    this.stream = stream;
    // The browser's own "Stop sharing" ends the track.
    for (const track of stream.getTracks()) track.addEventListener("ended", () => this.stop());
    this.ontile(stream);
    this.onstate(true);
    try {
      await publisher.start(stream);
    } catch {
      this.onerror();
      this.stop();
    }
  }

  /** Stop sharing: the server hears it (DELETE), the tracks end, our tile goes. */
  stop() {
    const publisher = this.publisher;
    if (!publisher) return;
    this.publisher = null;
    publisher.stop();
    for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.ontile(null);
    this.onstate(false);
  }

  /** Our connection dropped with the rest: share again on the new seat, if still sharing. */
  async restart() {
    if (!this.publisher) return;
    const stream = this.stream;
    await this.publisher.stop(); // a DELETE: the server may not have seen the old one drop yet
    const { api, me } = this.session();
    const publisher = new WhipPublisher(`${api}/participants/${me.id}/screen`, me.secret, {});
    this.publisher = publisher;
    try {
      await publisher.start(stream);
    } catch {
      if (this.publisher === publisher) this.stop();
    }
  }
}

/** Receive `participantId`'s screen into `video`; resolves to the player (close() it to stop). */
export async function watchScreen(api, me, participantId, video, headers, play) {
  const url = `${api}/participants/${me.id}/subscriptions/${participantId}/screen`;
  const player = new WhepPlayer(url, video, { headers, play });
  await player.start();
  return player;
}
