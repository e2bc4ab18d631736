"""The fidelity guard: every built-in and held-out case makes the timeline recorded in
tests/data/timelines.json (scripts/record_timelines.py, from the code before the steps stopped
waiting a fixed quiet period): the same steps, packets per step, state changes, epoll results,
counters, verdicts and notes. What the kernel did must not change with how fast the lab goes."""

import dataclasses
import json
from pathlib import Path

import pytest
from timelines import comparable, diff, normalise, scenarios

from tuiexplore import runner

REFERENCE = json.loads((Path(__file__).parent / "data" / "timelines.json").read_text())
SCENARIOS = scenarios()


def test_the_reference_covers_every_scenario():
    assert set(REFERENCE) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_timeline_is_the_recorded_one(name):
    result = runner.run(SCENARIOS[name])
    assert result.ok, result.failures
    got, want = comparable(normalise(result)), comparable(REFERENCE[name])
    assert got == want, diff(want, got)


# Through the relay's wire (issue 21) every built-in written for loopback makes the same timeline
# too: the receiver gets the sender's own segments (relay/bridge.py), as on loopback.
ON_LOOPBACK = sorted(n for n, s in SCENARIOS.items() if n.startswith("builtin/") and s.wire == "loopback")


@pytest.mark.parametrize("name", ON_LOOPBACK)
def test_timeline_through_the_relay_is_the_recorded_one(name):
    result = runner.run(dataclasses.replace(SCENARIOS[name], wire="relay"))
    assert result.ok and result.info.wire == "relay", result.failures
    got, want = comparable(normalise(result)), comparable(REFERENCE[name])
    assert got == want, diff(want, got)
