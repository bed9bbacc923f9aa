// Calls to the site's own JSON API. Every failure, whether the server refused the request or the
// network failed, becomes one ApiError that carries the API's error code (the contract's
// {"error": {"code", "message"}} body), so that pages pick their own translated text by code.

/** The CSRF token of this page, for calls that ride on the session cookie. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

/**
 * A failed API call. `status` is the HTTP status (0, with code "network": no response at all),
 * `code` the API's error code ("" when the body had none), `message` the server's own message
 * ("" when it gave none) and `retryAfter` the seconds the server asked to wait (null without a
 * Retry-After header).
 */
export class ApiError extends Error {
  constructor(status, code = "", message = "", retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Seconds to wait from a Retry-After header: delay-seconds or an HTTP date. */
function retryAfterSeconds(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** The ApiError for a response that is not OK, read from its body (which need not be JSON). */
export async function errorFrom(response) {
  let error = {};
  try {
    error = (await response.json()).error || {};
  } catch {
    // not JSON: status only
  }
  return new ApiError(
    response.status,
    error.code || "",
    error.message || "",
    retryAfterSeconds(response.headers.get("Retry-After")),
  );
}

/**
 * Call the JSON API: same-origin credentials, the page's CSRF header, `body` (when given) sent as
 * JSON. Resolves to the parsed response body (null when empty); throws ApiError.
 */
export async function fetchJson(url, { method = "GET", body, headers = {}, keepalive = false } = {}) {
  const sent = new Headers(headers);
  sent.set("X-CSRF-Token", csrfToken());
  const options = { method, credentials: "same-origin", headers: sent, keepalive };
  if (body !== undefined) {
    sent.set("Content-Type", "application/json");
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new ApiError(0, "network");
  }
  if (!response.ok) throw await errorFrom(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/**
 * `read` (an async function) run one at a time: a call while it runs brings exactly one more run
 * after it, however many calls came meanwhile, so a burst of realtime events costs two reads of
 * the API, not a pile of overlapping ones. The returned function resolves when the reads are done.
 */
export function oneAtATime(read) {
  let running = null;
  let again = false;
  return function run() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await read();
      } while (again);
      running = null;
    })();
    return running;
  };
}
