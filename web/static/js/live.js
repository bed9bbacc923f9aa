// Keeps the "Live now" cards of a page fresh without a reload: each live card
// (<... data-live-stream="ID">) follows its broadcast's channel on the page socket (stream:ID,
// the watch page's), shows the live viewer count as it changes and greys out when the broadcast
// ends. The page is complete without this script.

import { subscribe } from "./channel.js";

const numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);

for (const card of document.querySelectorAll("[data-live-stream]")) {
  const viewers = card.querySelector("[data-viewers]");
  subscribe(`stream:${card.dataset.liveStream}`, {
    onsubscribed() {
      card.dataset.following = "";
    },
    onevent(data) {
      if (data.kind === "viewers" && viewers && Number.isInteger(data.live_viewers)) {
        viewers.textContent = viewers.dataset.viewers.replace("__N__", numbers.format(data.live_viewers));
      } else if (data.kind === "status" && data.status !== "live") {
        card.classList.add("live-over");
        for (const badge of card.querySelectorAll(".live-badge")) badge.hidden = true;
      }
    },
  });
}
