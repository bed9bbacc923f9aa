// How a room's tiles are laid out (room.js): a grid that fits 2 to 12 tiles (a little wider than
// tall, fewer columns on a narrow screen), or the speaker layout: one big tile (the one pinned,
// else whoever speaks, else a shared screen, else the first) above a filmstrip of the rest.
// The choice is kept in localStorage for the next room.

const LAYOUT_KEY = "expo.room.layout";

export class Layout {
  constructor(grid, toggle, t) {
    this.grid = grid;
    this.toggle = toggle;
    this.t = t;
    this.pinned = null; // a tile key
    this.speaker = null; // the last remote tile key heard speaking
    this.mine = null; // our own tile key: never followed as the speaker
    let stored = null;
    try {
      stored = window.localStorage.getItem(LAYOUT_KEY);
    } catch {
      stored = null; // storage refused: the grid, and no memory of the choice
    }
    this.mode = stored === "speaker" ? "speaker" : "grid";
    toggle.addEventListener("click", () => this.set(this.mode === "grid" ? "speaker" : "grid"));
    new MutationObserver(() => this.update()).observe(grid, { childList: true });
    this.update();
  }

  set(mode) {
    this.mode = mode;
    try {
      window.localStorage.setItem(LAYOUT_KEY, mode);
    } catch {
      // kept for this page only
    }
    this.update();
  }

  pin(key) {
    this.pinned = this.pinned === key ? null : key;
    if (this.pinned && this.mode !== "speaker") this.set("speaker");
    else this.update();
  }

  /** Whoever speaks now (the first of `ids` that is not us) becomes the big tile, until someone else speaks. */
  speaking(ids) {
    const other = ids.find((id) => id !== this.mine);
    if (other) this.speaker = other;
    if (this.mode === "speaker") this.update();
  }

  featured(tiles) {
    const byKey = (key) => key && tiles.find((tile) => tile.dataset.tile === key);
    return (
      byKey(this.pinned) ||
      byKey(this.speaker) ||
      tiles.find((tile) => tile.classList.contains("room-screen")) ||
      tiles.find((tile) => tile.dataset.tile !== this.mine) ||
      tiles[0]
    );
  }

  update() {
    const tiles = [...this.grid.querySelectorAll(":scope > .room-tile")];
    if (this.pinned && !tiles.some((tile) => tile.dataset.tile === this.pinned)) this.pinned = null;
    const count = Math.max(tiles.length, 1);
    // Wider than tall, like the screens it is seen on: 2 → 2 columns, 3-6 → 3, 7-10 → 4, 11-12 → 5.
    const columns = Math.min(count, Math.ceil(Math.sqrt(count * 1.5)));
    this.grid.style.setProperty("--room-columns", String(columns));
    this.grid.style.setProperty("--room-columns-narrow", String(count <= 3 ? 1 : 2));
    this.grid.dataset.layout = this.mode;
    this.grid.dataset.count = String(tiles.length);
    const big = this.mode === "speaker" ? this.featured(tiles) : null;
    for (const tile of tiles) {
      tile.dataset.featured = String(tile === big);
      const pin = tile.querySelector(".room-pin");
      if (!pin) continue;
      const pinned = tile.dataset.tile === this.pinned;
      pin.setAttribute("aria-pressed", String(pinned));
      pin.textContent = pinned ? this.t.unpin : this.t.pin;
    }
    this.toggle.setAttribute("aria-pressed", String(this.mode === "speaker"));
    this.toggle.textContent = this.mode === "speaker" ? this.t.gridLayout : this.t.speakerLayout;
  }
}
