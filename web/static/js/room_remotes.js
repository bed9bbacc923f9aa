// The other participants of a room (room.js): a tile each (room_tiles.js), their camera and
// microphone received on a recvonly connection of its own, forwarded by the server, and their
// shared screen, if any, on one more, in a tile of its own. Our own shared screen is shown here too.

import { watchScreen } from "./room_screen.js";
import * as tiles from "./room_tiles.js";
import { WhepPlayer } from "./webrtc.js";

export class Remotes {
  /**
   * `session()` is `{api, me, headers}` now (a rejoin may change the seat); `hostActions(remote,
   * participant)` adds the host's buttons to a tile; `onfailed()` hears that someone's media
   * stopped reaching us; `onchange()` that someone came or went.
   */
  constructor({ grid, t, layout, unmute, session, hostActions, onfailed, onchange }) {
    this.grid = grid;
    this.t = t;
    this.layout = layout;
    this.unmute = unmute;
    this.session = session;
    this.hostActions = hostActions;
    this.onfailed = onfailed;
    this.onchange = onchange;
    this.people = new Map(); // id -> tile parts, player, media (the sending session it plays)
    this.screens = new Map(); // id -> tile parts, player, media (the screen it plays)
    this.ownScreen = null;
    unmute.addEventListener("click", () => this.allowSound());
  }

  get size() {
    return this.people.size;
  }

  get(id) {
    return this.people.get(id);
  }

  ids() {
    return [...this.people.keys()];
  }

  /** Show someone who is in the room (a tile with their name), whether or not they send media. */
  arrive(participant) {
    if (participant.id === this.session().me.id) return null;
    let remote = this.people.get(participant.id);
    if (!remote) {
      remote = tiles.makeTile(this.grid, {
        key: participant.id,
        participantId: participant.id,
        text: tiles.label(participant, this.t),
        t: this.t,
        onpin: (key) => this.layout.pin(key),
      });
      Object.assign(remote, { player: null, media: null, lower: null });
      this.hostActions(remote, participant);
      this.people.set(participant.id, remote);
      this.onchange();
    }
    tiles.showHand(remote, participant.hand);
    tiles.showMedia(remote, participant);
    tiles.showReconnecting(remote, participant.reconnecting);
    return remote;
  }

  /** Receive someone's media once they send it (again if they reconnected), and their screen. */
  async receive(participant) {
    const remote = this.arrive(participant);
    if (!remote) return;
    this.receiveScreen(participant);
    if (!participant.publishing || remote.media === participant.media) return;
    if (remote.player) remote.player.close(); // their previous sending session is gone
    const { api, me, headers } = this.session();
    const url = `${api}/participants/${me.id}/subscriptions/${participant.id}`;
    const player = new WhepPlayer(url, remote.video, {
      headers,
      play: (video) => this.play(video),
      // Their media stopped reaching us: if they are gone, the participant list says so.
      onstate: (name) => {
        if (name === "failed" && remote.player === player) this.onfailed();
      },
    });
    remote.player = player;
    remote.media = participant.media;
    try {
      await player.start();
    } catch {
      // They left meanwhile, or stopped sending: a later event brings their media back.
      if (remote.player === player) {
        remote.player = null;
        remote.media = null;
      }
    }
  }

  /** Their shared screen: a tile of its own while they share, gone when they stop. */
  async receiveScreen(participant) {
    if (participant.id === this.session().me.id) return; // ours is shown from the stream itself
    let shown = this.screens.get(participant.id);
    if (!participant.screen) {
      this.dropScreen(participant.id);
      return;
    }
    if (shown && shown.media === participant.screen) return;
    if (!shown) {
      shown = tiles.makeTile(this.grid, this.screenTile(participant.id, tiles.label(participant, this.t)));
      this.screens.set(participant.id, shown);
    }
    if (shown.player) shown.player.close();
    shown.media = participant.screen;
    shown.player = null;
    const { api, me, headers } = this.session();
    try {
      const player = await watchScreen(api, me, participant.id, shown.video, headers, (v) => v.play().catch(() => {}));
      if (this.screens.get(participant.id) === shown && shown.media === participant.screen) shown.player = player;
      else player.close();
    } catch {
      if (this.screens.get(participant.id) === shown) shown.media = null; // stopped meanwhile
    }
  }

  screenTile(id, name) {
    return {
      key: `${id}:screen`,
      participantId: id,
      text: this.t.screenOf.replace("{name}", name),
      screen: true,
      t: this.t,
      onpin: (key) => this.layout.pin(key),
    };
  }

  dropScreen(id) {
    const shown = this.screens.get(id);
    if (!shown) return;
    this.screens.delete(id);
    if (shown.player) shown.player.close();
    shown.tile.remove();
  }

  /** Our own shared screen, shown to us too (`stream` null: we stopped). */
  showOwnScreen(stream) {
    if (this.ownScreen) this.ownScreen.tile.remove();
    this.ownScreen = null;
    if (!stream) return;
    this.ownScreen = tiles.makeTile(this.grid, this.screenTile(this.session().me.id, this.t.you));
    this.ownScreen.video.muted = true;
    this.ownScreen.video.srcObject = stream;
  }

  /** They left: their tiles go, and what we received of them. */
  drop(id) {
    this.dropScreen(id);
    const remote = this.people.get(id);
    if (!remote) return;
    this.people.delete(id);
    if (remote.player) remote.player.close();
    remote.tile.remove();
    this.updateUnmute();
    this.onchange();
  }

  dropAll() {
    for (const id of this.ids()) this.drop(id);
  }

  /** Our connection dropped: stop receiving, keep the tiles; `receive` starts again on rejoining. */
  pause() {
    for (const remote of this.people.values()) {
      if (remote.player) remote.player.close();
      remote.player = null;
      remote.media = null;
    }
    for (const id of [...this.screens.keys()]) this.dropScreen(id);
  }

  rename(participant) {
    const remote = this.people.get(participant.id);
    if (!remote) return false;
    const name = tiles.label(participant, this.t);
    tiles.setName(remote, name);
    const shown = this.screens.get(participant.id);
    if (shown) tiles.setName(shown, this.t.screenOf.replace("{name}", name));
    return true;
  }

  /** "Play sound" is offered only while a video plays muted because the browser refused sound. */
  updateUnmute() {
    this.unmute.hidden = ![...this.people.values()].some(({ video }) => video.dataset.soundBlocked === "true");
  }

  /**
   * Play with sound if the browser allows it. Only a refusal of autoplay with sound
   * (NotAllowedError) mutes the video and offers "Play sound"; a play() cut short by new media
   * (AbortError) is not a refusal, the next play() decides.
   */
  play(video) {
    video.play().then(
      () => {
        if (!video.muted) video.dataset.soundBlocked = "false";
        this.updateUnmute();
      },
      (error) => {
        if (!error || error.name !== "NotAllowedError") return;
        video.muted = true;
        video.dataset.soundBlocked = "true";
        video.play().catch(() => {});
        this.updateUnmute();
      },
    );
  }

  allowSound() {
    for (const { video } of this.people.values()) {
      if (video.dataset.soundBlocked !== "true") continue;
      video.muted = false;
      video.dataset.soundBlocked = "false";
      this.play(video); // a click allows sound: this plays, or offers the button again
    }
    this.updateUnmute();
  }
}
