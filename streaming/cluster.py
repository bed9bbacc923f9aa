"""The server processes of one deployment: where each listens privately, and how a request that
belongs to another process gets there.

Every ``expo serve`` process (a worker of ``--workers N``, or a process of its own on another port
or machine) listens on two sockets: the public one, shared by all, and a private one,
``relay_host`` on a port of its own. It names that address in a presence on the bus
(:data:`PROCESSES_KEY`, members ``{process}@{host}:{port}``, renewed every ``presence_interval``
seconds, lapsing after three, left on close), so any process can reach any other.

What goes over the private address:

* **relay links** (:mod:`streaming.relay`): a WebSocket that carries a stream's encoded frames to a
  process whose viewers want them;
* **forwarded requests**: a request that landed on a process that does not hold what it is about
  (a WHEP or WHIP session's DELETE, "go live" of a rehearsal, an HLS playlist or segment, a room's
  signalling) is sent on as it came (method, path, body, cookies, bearer) to the process that
  does, whose ordinary route answers it. A request that arrived on the private socket is never
  forwarded again.

Routes that exist only for the other processes (the relay link) need an HMAC from the platform
secret (:meth:`Cluster.sign`, header :data:`SIGNATURE_HEADER`: a timestamp and a MAC of the method
and path) and are refused on the public socket. Forwarded requests need none: they are ordinary
requests, authorised by the route as if they had come directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping

import httpx
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from expo.bus import Bus, BusError

logger = logging.getLogger(__name__)

PROCESSES_KEY = "server-processes"
"""Bus presence of the server processes' private addresses; members ``{process}@{host}:{port}``."""
SIGNATURE_HEADER = "x-expo-cluster"
MAX_SKEW = 60.0  # seconds a signature stays valid (the processes' clocks are one host's or NTP's)
CACHE_SECONDS = 30.0  # how long an immutable answer of another process is kept here
CACHE_BYTES = 64 * 1024 * 1024
FORWARD_TIMEOUT = 30.0  # an HLS blocking playlist request may wait three target durations
# Hop-by-hop headers (RFC 9110 7.6.1) and the ones httpx sets itself.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "accept-encoding",
        "content-encoding",
        # Replaced: this process already resolved the client's address through trusted proxies.
        "x-forwarded-for",
        "x-forwarded-proto",
        SIGNATURE_HEADER,
    }
)


def session_owner(session_id: str) -> str:
    """The process named in a WHIP/WHEP session id (``{token}.{process}``), or ``""``."""
    _, dot, owner = session_id.rpartition(".")
    return owner if dot else ""


class Cluster:
    """This process's place among the server processes; built by the platform, started and
    closed in the lifespan.

    States: *alone* (no private address: an app served in-process by tests, or ``expo serve``
    before :meth:`listen_on`; nothing is forwarded and nothing named on the bus), *listening*
    (:meth:`listen_on` was called: the address is named once started), *closed*.

    :attr:`instance` is this process's name, the one its media plane and rooms use in their bus
    presences and in session ids.

    :param secret: the platform secret, from which the internal routes' HMAC key is derived.
    :param presence_interval: seconds between renewals of the private address on the bus (which
        lapses after three intervals without one).
    """

    def __init__(self, bus: Bus, secret: str, *, presence_interval: float = 5.0) -> None:
        self.bus = bus
        self.instance = secrets.token_hex(8)
        self.presence_interval = presence_interval
        self.host: str | None = None
        self.port: int | None = None
        self._key = hmac.new(secret.encode(), b"expo.cluster.v1", hashlib.sha256).digest()
        self._addresses: dict[str, str] = {}
        # Immutable public answers of other processes (HLS segments), by path and query.
        self._cache: OrderedDict[str, tuple[float, httpx.Response]] = OrderedDict()
        self._cached_bytes = 0
        self._client: httpx.AsyncClient | None = None
        self._keeper: asyncio.Task[None] | None = None
        self.closed = False

    # -- this process ------------------------------------------------------------------------

    def listen_on(self, host: str, port: int) -> None:
        """Say where this process's private socket listens (``expo serve`` binds it)."""
        self.host, self.port = host, port

    @property
    def address(self) -> str | None:
        """``host:port`` of the private socket, if there is one."""
        if self.host is None or self.port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def on_private_socket(self, connection: HTTPConnection) -> bool:
        """Whether ``connection`` came in on the private socket (not the public one)."""
        server = connection.scope.get("server")
        return self.port is not None and server is not None and server[1] == self.port

    def member(self) -> str:
        """This process's member of :data:`PROCESSES_KEY`."""
        return f"{self.instance}@{self.address}"

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=FORWARD_TIMEOUT, trust_env=False)
        self._keeper = asyncio.create_task(self._keep_presence(), name="cluster-presence")

    async def close(self) -> None:
        self.closed = True
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        if self.address is not None:
            try:
                await self.bus.presence_leave(PROCESSES_KEY, self.member())
            except BusError:
                logger.warning("cluster: could not leave the process presence; it lapses on its own")
        if self._client is not None:
            await self._client.aclose()

    async def _keep_presence(self) -> None:
        while not self.closed:
            if self.address is not None:
                try:
                    await self.bus.presence_touch(PROCESSES_KEY, self.member(), 3 * self.presence_interval)
                except BusError as exc:
                    logger.debug("cluster: cannot renew the process presence: %s", exc)
            await asyncio.sleep(self.presence_interval)

    # -- the others --------------------------------------------------------------------------

    async def address_of(self, instance: str) -> str | None:
        """The private ``host:port`` of process ``instance``, if it is named on the bus."""
        if instance == self.instance:
            return self.address
        known = self._addresses.get(instance)
        if known is not None:
            return known
        members = await self.bus.presence_members(PROCESSES_KEY)
        self._addresses = dict(m.split("@", 1) for m in members if "@" in m)
        return self._addresses.get(instance)

    def forget(self, instance: str) -> None:
        """``instance`` did not answer: look its address up on the bus again next time."""
        self._addresses.pop(instance, None)

    async def holder(self, key: str, name: str) -> str | None:
        """The process (other than this one) whose presence ``key`` names ``name``
        (members ``{name}/{process}``, like the media plane's publishers), if any."""
        if self.address is None:
            return None  # alone: there is nobody to ask
        for member in await self.bus.presence_members(key):
            held, _, instance = member.partition("/")
            if held == name and instance and instance != self.instance:
                return instance
        return None

    # -- signatures --------------------------------------------------------------------------

    def sign(self, method: str, path: str, now: float | None = None) -> str:
        """The value of :data:`SIGNATURE_HEADER` for a request to another process."""
        stamp = int(time.time() if now is None else now)
        return f"{stamp}.{self._mac(stamp, method, path)}"

    def verify(self, connection: HTTPConnection, method: str) -> bool:
        """Whether ``connection`` came in on the private socket with a valid, current signature."""
        if not self.on_private_socket(connection):
            return False
        stamp, _, mac = connection.headers.get(SIGNATURE_HEADER, "").partition(".")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_SKEW:
            return False
        expected = self._mac(int(stamp), method, connection.url.path)
        return hmac.compare_digest(expected, mac)

    def _mac(self, stamp: int, method: str, path: str) -> str:
        message = f"{stamp}\n{method.upper()}\n{path}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    # -- forwarding --------------------------------------------------------------------------

    def may_forward(self, request: Request) -> bool:
        """Whether a request that belongs elsewhere may be forwarded from here (it did not come
        over the private socket already, and there are other processes to forward it to)."""
        return self.address is not None and not self.on_private_socket(request)

    async def forward(self, request: Request, instance: str) -> Response | None:
        """Send ``request`` as it came to process ``instance`` and return its answer, or
        ``None`` if that process is not named on the bus or does not answer."""
        upstream = await self.fetch(request, instance)
        if upstream is None:
            return None
        return relayed_response(upstream)

    async def forward_cached(self, request: Request, instance: str) -> Response | None:
        """:meth:`forward`, keeping answers that say ``public`` and ``immutable`` for
        :data:`CACHE_SECONDS` (HLS segments: a crowd asking this process for the same segment
        costs the process that made it one request)."""
        key = f"{request.method} {request.url.path}?{request.url.query}"
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return relayed_response(cached[1])
        upstream = await self.fetch(request, instance)
        if upstream is None:
            return None
        control = upstream.headers.get("cache-control", "")
        if upstream.status_code == 200 and "public" in control and "immutable" in control:
            self._remember(key, upstream, now + CACHE_SECONDS)
        return relayed_response(upstream)

    def _remember(self, key: str, response: httpx.Response, expires: float) -> None:
        previous = self._cache.pop(key, None)
        if previous is not None:
            self._cached_bytes -= len(previous[1].content)
        self._cache[key] = (expires, response)
        self._cached_bytes += len(response.content)
        now = time.monotonic()
        while self._cache and (
            self._cached_bytes > CACHE_BYTES or next(iter(self._cache.values()))[0] <= now
        ):
            _, (_, old) = self._cache.popitem(last=False)
            self._cached_bytes -= len(old.content)

    async def fetch(self, request: Request, instance: str) -> httpx.Response | None:
        """:meth:`forward`, returning the other process's answer as it came."""
        if self._client is None or not self.may_forward(request):
            return None
        try:
            address = await self.address_of(instance)
        except BusError:
            return None
        if address is None:
            return None
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        headers.append(("x-forwarded-for", request.client.host if request.client else "127.0.0.1"))
        headers.append(("x-forwarded-proto", request.url.scheme))
        url = f"http://{address}{request.url.path}"
        body = await request.body()
        try:
            return await self._client.request(
                request.method, url, params=str(request.query_params), headers=headers, content=body
            )
        except httpx.TransportError as exc:
            logger.info("cluster: process %s at %s does not answer: %s", instance, address, exc)
            self.forget(instance)
            return None


def relayed_response(upstream: httpx.Response, extra: Mapping[str, str] | None = None) -> Response:
    """A Starlette response with ``upstream``'s status, headers (every ``Set-Cookie``) and body."""
    response = Response(upstream.content, status_code=upstream.status_code)
    raw: list[tuple[bytes, bytes]] = [
        (k.lower().encode(), v.encode())
        for k, v in upstream.headers.multi_items()
        if k.lower() not in _HOP and k.lower() != "date"
    ]
    raw.append((b"content-length", str(len(upstream.content)).encode()))
    for key, value in (extra or {}).items():
        raw.append((key.lower().encode(), value.encode()))
    response.raw_headers = raw
    return response
