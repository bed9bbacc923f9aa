"""Whether a bus backend answers, and when to try it again while it does not.

When Redis goes away every request that touches the bus fails the same way. Without a common
record of that, each of them would wait for its own connection attempt (up to the connect timeout
when the host is unreachable) and log its own traceback: a thousand identical lines a second, and
pages held up for seconds. :class:`Outage` turns that into one warning when the outage starts, one
when it ends, and fast failures in between, with a probe let through now and then (exponential
backoff with jitter, so a fleet of processes does not knock in lockstep) to notice the return.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("expo.bus.redis")

# What says "the backend is gone" rather than "this one command was wrong" (a script error or a
# key of the wrong type is the caller's problem and says nothing about the connection).
LINK_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


class Outage:
    """The up/down state of one backend, shared by its command pool and its pub/sub reader.

    States: *up* (everything goes through), *down* (:meth:`allows` says no, except for one probe
    per backoff step). :meth:`failed` and :meth:`recovered` move between them and log only on a
    change of state. ``clock`` exists for tests.
    """

    def __init__(
        self,
        where: str,
        *,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.where = where
        self._initial = backoff_initial
        self._max = backoff_max
        self._clock = clock
        self._delay = backoff_initial
        self._next_probe = 0.0
        self.down_since: float | None = None
        self.outages = 0
        """How many outages began since start: lets callers (and tests) tell one from several."""

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def allows(self) -> bool:
        """May a command go to the backend now? Always while up; while down, only the one probe
        whose turn has come (it claims the turn, so concurrent callers keep failing fast)."""
        if self.down_since is None:
            return True
        now = self._clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + self._step()
        return True

    def failed(self, error: BaseException) -> bool:
        """A command or the pub/sub link failed for want of the backend; True when this began an
        outage."""
        now = self._clock()
        began = self.down_since is None
        if began:
            self.down_since = now
            self.outages += 1
            self._delay = self._initial
            logger.warning(
                "Redis at %s is unreachable (%s: %s): live figures and events pause; retrying with backoff",
                self.where,
                type(error).__name__,
                error,
            )
        self._next_probe = now + self._step()
        return began

    def recovered(self) -> None:
        """The backend answered: back to normal, saying so once."""
        if self.down_since is None:
            return
        lasted = self._clock() - self.down_since
        self.down_since = None
        self._delay = self._initial
        logger.warning("Redis at %s is reachable again after %.1f s", self.where, lasted)

    def _step(self) -> float:
        pause = self._delay * random.uniform(0.5, 1.0)
        self._delay = min(self._delay * 2, self._max)
        return pause
