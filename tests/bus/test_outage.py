"""The outage record of a bus backend: one log line per outage, fast failures, probes with backoff."""

from __future__ import annotations

import itertools

import pytest

from expo.bus.outage import Outage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    outage = Outage("redis://cache:6379/0", clock=clock)
    with caplog.at_level("DEBUG", logger="expo.bus.redis"):
        assert outage.failed(ConnectionError("refused")) is True
        for _ in range(100):
            clock.now += 0.5
            outage.failed(ConnectionError("refused"))
        clock.now += 5
        outage.recovered()
        outage.recovered()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "unreachable" in lines[0] and "redis://cache:6379/0" in lines[0]
    assert "reachable again after 55.0 s" in lines[1]
    assert outage.outages == 1 and not outage.down


def test_while_down_only_one_probe_per_backoff_step_goes_through() -> None:
    clock = Clock()
    outage = Outage("redis://cache", backoff_initial=1.0, backoff_max=4.0, clock=clock)
    assert outage.allows()
    outage.failed(ConnectionError("refused"))
    # Right after the failure everybody fails fast...
    assert not any(outage.allows() for _ in range(10))
    # ...then, once the step has passed, exactly one caller probes.
    probes = []
    for _ in range(200):
        clock.now += 0.1
        if outage.allows():
            probes.append(clock.now)
            outage.failed(ConnectionError("still refused"))
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert gaps, "no probe in 20 s"
    # Jittered exponential backoff: the gaps grow, and stay under the cap (plus one tick).
    assert max(gaps) <= 4.0 + 0.1
    assert gaps[-1] >= 2.0 - 0.1  # capped steps are jittered between half the cap and the cap
    assert len(probes) < 20
    outage.recovered()
    assert all(outage.allows() for _ in range(10))


def test_a_new_outage_starts_from_the_initial_backoff() -> None:
    clock = Clock()
    outage = Outage("redis://cache", backoff_initial=0.2, backoff_max=10.0, clock=clock)
    outage.failed(ConnectionError("one"))
    for _ in range(6):
        clock.now += 20
        assert outage.allows()
        outage.failed(ConnectionError("one"))
    outage.recovered()
    outage.failed(ConnectionError("two"))
    clock.now += 0.2  # one initial step at most
    assert outage.allows()
    assert outage.outages == 2
