"""What the relay's tests share: a scenario on the relay's wire run for real, and a step's events."""

from conftest import CONNECT, SERVER, run_text, steps

from tuiexplore import runner
from tuiexplore.timeline import CountersEvent

RELAY = '\n[lab]\nwire = "relay"\n'


def relay(*parts: str) -> runner.RunResult:
    return run_text(steps(SERVER, CONNECT, *parts) + RELAY)


def of(result: runner.RunResult, kind: type, n: int) -> list:
    return [e for e in result.events if isinstance(e, kind) and e.step == n]


def deltas(result: runner.RunResult, n: int) -> dict:
    return next((e.deltas for e in of(result, CountersEvent, n)), {})
