// The host's side of a room (room.js): who waits in the lobby (Admit, Turn away) and the room's
// settings (capacity, lobby, lock). Only the host's page has these elements; for a guest every
// function here does nothing.

import { fetchJson } from "./api.js";
import { button } from "./dom.js";

const lobby = document.getElementById("room-lobby");
const lobbyList = document.getElementById("lobby-list");
const settingsForm = document.getElementById("room-settings");

export class HostControl {
  /** `control(path)` runs a host action on someone; `label(participant)` names them. */
  constructor({ api, config, t, control, label }) {
    this.api = api;
    this.config = config;
    this.t = t;
    this.control = control;
    this.label = label;
  }

  /** Someone (else) waits in the lobby: the host's list offers Admit and Turn away. */
  knock(participant) {
    if (!lobby) return;
    let item = lobbyList.querySelector(`[data-waiting="${CSS.escape(participant.id)}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.waiting = participant.id;
      const name = document.createElement("span");
      name.className = "room-lobby-name";
      const admit = button(this.t.admit, () => this.control(`lobby/${participant.id}/admit`));
      admit.dataset.action = "admit";
      const away = button(this.t.turnAway, () => this.control(`lobby/${participant.id}/turn-away`), "small");
      away.dataset.action = "turn-away";
      item.append(name, admit, away);
      lobbyList.append(item);
    }
    item.querySelector(".room-lobby-name").textContent = this.label(participant);
    lobby.hidden = false;
  }

  unknock(id) {
    if (!lobby) return;
    lobbyList.querySelector(`[data-waiting="${CSS.escape(id)}"]`)?.remove();
    lobby.hidden = !lobbyList.children.length;
  }

  isWaiting(id) {
    return Boolean(lobby?.querySelector(`[data-waiting="${CSS.escape(id)}"]`));
  }

  /** The lobby as the participant list has it now. */
  syncLobby(waiting) {
    if (!lobby) return;
    const knocking = new Set(waiting.map((p) => p.id));
    for (const item of [...lobbyList.children]) if (!knocking.has(item.dataset.waiting)) this.unknock(item.dataset.waiting);
    for (const participant of waiting) this.knock(participant);
  }

  /** The host's settings: capacity, lobby, lock (shown in their form; the lock state said). */
  applySettings(settings) {
    if (!settingsForm || !settings) return;
    const lock = document.getElementById("lock-button");
    lock.setAttribute("aria-pressed", String(settings.locked));
    lock.textContent = settings.locked ? this.t.unlock : this.t.lock;
    lock.dataset.locked = String(settings.locked);
    document.getElementById("lobby-on").checked = settings.lobby;
    const capacity = document.getElementById("room-capacity");
    if (document.activeElement !== capacity) capacity.value = settings.capacity; // not while typing
    settingsForm.dataset.locked = String(settings.locked);
  }

  async saveSettings(change) {
    const note = document.getElementById("settings-state");
    try {
      const settings = await fetchJson(`${this.api}/settings`, {
        method: "PUT",
        body: { key: this.config.key, ...change },
      });
      this.applySettings(settings);
      note.textContent = `${this.t.saved} ${settings.locked ? this.t.isLocked : this.t.isOpen}`;
    } catch (error) {
      const limit = this.config.settings.limit;
      note.textContent =
        error.code === "room.invalid_capacity" ? this.t.capacityInvalid.replace("{limit}", limit) : this.t.actionFailed;
    }
  }

  wire() {
    if (!settingsForm) return;
    settingsForm.hidden = false;
    const capacity = document.getElementById("room-capacity");
    settingsForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveSettings({ capacity: Number(capacity.value) });
    });
    document.getElementById("lobby-on").addEventListener("change", (event) => {
      this.saveSettings({ lobby: event.target.checked });
    });
    document.getElementById("lock-button").addEventListener("click", (event) => {
      this.saveSettings({ locked: event.target.dataset.locked !== "true" });
    });
    this.applySettings(this.config.settings);
  }

  hide() {
    if (lobby) lobby.hidden = true;
    if (settingsForm) settingsForm.hidden = true;
  }
}
