// The ceremony moment (template: _ceremony_moment.html). When the last party of a signing
// ceremony signs, the server sends {"type"/"kind": "ceremony", ...} on the room's channel and on
// the channel of the broadcast that carries it; the page's own channel script (room.js,
// watch.js) re-dispatches every event as "expo:channel-event", and this shows the moment at once.

const banner = document.getElementById("ceremony-moment");

function show(event) {
  document.getElementById("ceremony-title").textContent = event.title || ""; // text, never HTML
  const list = document.getElementById("ceremony-parties");
  list.replaceChildren(
    ...(event.parties || []).map((party) => {
      const item = document.createElement("li");
      item.textContent = `${party.party} · ${party.signer}`;
      return item;
    }),
  );
  const link = document.getElementById("ceremony-certificate");
  link.href = event.certificate_url || "#";
  link.hidden = !event.certificate_url;
  banner.hidden = false;
  banner.dataset.shown = "true";
  // Restart the animation when a second ceremony on the same broadcast completes.
  banner.classList.remove("ceremony-play");
  void banner.offsetWidth;
  banner.classList.add("ceremony-play");
}

if (banner) {
  document.addEventListener("expo:channel-event", (event) => {
    const data = event.detail || {};
    if (data.type === "ceremony" || data.kind === "ceremony") show(data);
  });
  document.getElementById("ceremony-close").addEventListener("click", () => {
    banner.hidden = true;
  });
}
