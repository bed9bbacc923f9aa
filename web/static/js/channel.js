// One realtime channel over the page socket at /ws (protocol: expo/realtime.py), reconnecting
// with back-off. A page that was disconnected may have missed events: `onsubscribed(again)` tells
// it when the subscription is live, and whether this is a re-subscription after a reconnect.

const MAX_DELAY_MS = 30000;
const PING_MS = 25000;

/**
 * Subscribe to `channel`. `handlers.onevent(data)` receives each event's data,
 * `handlers.onsubscribed(again)` each (re)subscription, `handlers.onrefused(code)` a refusal.
 * Returns a function that closes the socket for good.
 */
export function subscribe(channel, { onevent, onsubscribed = () => {}, onrefused = () => {} }) {
  let socket = null;
  let delay = 1000;
  let closed = false;
  let subscribedBefore = false;
  let pinger = null;

  function open() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws");
    socket.addEventListener("open", () => {
      delay = 1000;
      socket.send(JSON.stringify({ type: "subscribe", channel }));
      // Keeps idle proxies from closing the socket; the server answers "pong".
      pinger = setInterval(() => socket.send(JSON.stringify({ type: "ping" })), PING_MS);
    });
    socket.addEventListener("message", (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === "event" && frame.channel === channel) {
        onevent(frame.data);
      } else if (frame.type === "subscribed" && frame.channel === channel) {
        onsubscribed(subscribedBefore);
        subscribedBefore = true;
      } else if (frame.type === "error" && frame.code === "channel.forbidden") {
        closed = true;
        onrefused(frame.code);
        socket.close();
      } else if (frame.type === "error" && frame.code === "channel.failed") {
        socket.send(JSON.stringify({ type: "subscribe", channel }));
      }
    });
    socket.addEventListener("close", () => {
      clearInterval(pinger);
      if (closed) return;
      setTimeout(open, delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    });
  }

  open();
  return () => {
    closed = true;
    if (socket) socket.close();
  };
}
