"""The ``wait`` step: the lab waits until the next pending timer of a lab socket has fired.

The timer and its time left come from the kernel (sock_diag, ``lab/timers.py``), and so does
the proof that it fired: its socket has no timer of that kind any more, or it is armed again
(``idiag_expires`` is 0 from the moment a timer is due until it runs, then the time to its next
expiry). A timer's callback may run a little after its expiry, because the kernel's timer wheel
rounds a long timer up (by at most an eighth of its length), so the wait watches for that much
longer before it says the timer has not fired. What the timer did (segments, state changes,
counters) is the step's evidence like any step's: the agent's usual settling follows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuiexplore.lab.timers import KINDS, Pending, duration

POLL_S = 0.005
SLACK = 0.125  # the timer wheel's rounding up, at most this share of a timer's length
SLACK_MIN_S = 0.05


@dataclass(frozen=True)
class Waited:
    ok: bool
    result: dict[str, Any]  # the step's result: the timer waited for, how long it took
    message: str  # why not (ok False), else what fired, for a note
    waited_s: float


class TimerWait:
    def __init__(self, pending: Callable[[], list[Pending]], wait: Callable[[float], object]) -> None:
        """``pending``: the lab sockets' timers now, soonest first; ``wait``: the lab waits this
        long, handling what arrives meanwhile."""
        self.pending, self.wait = pending, wait

    def run(self, max_ms: int) -> Waited:
        t0 = time.time()
        now = self.pending()
        if not now:
            return Waited(False, {}, "no timer is pending on any lab socket: nothing to wait for", 0.0)
        first = now[0]
        if first.due_ms > max_ms:
            return Waited(
                False,
                {"timer": first.to_dict()},
                f"the next timer is {first.line()}, beyond this wait's bound of {duration(max_ms)}; "
                f"give max_ms = {min(first.due_ms + 1000, 120_000)} to wait for it",
                0.0,
            )
        self.wait(first.due_ms / 1000)
        deadline = time.time() + max(SLACK_MIN_S, first.due_ms / 1000 * SLACK)
        while not _fired(first, self.pending()):
            if time.time() >= deadline:
                waited = time.time() - t0
                return Waited(False, {"timer": first.to_dict()}, f"{first.line()}: it had not fired {waited:.2f} s later", waited)
            self.wait(POLL_S)
        waited = time.time() - t0
        took = duration(round(waited * 1000))
        said = f"wait: the {KINDS[first.kind]} timer of {first.actor} {first.fd} ({first.state}) fired after {took}"
        return Waited(True, {"timer": first.to_dict(), "waited_ms": round(waited * 1000)}, said, waited)


def _fired(timer: Pending, now: list[Pending]) -> bool:
    """Gone from its socket, or armed again (a timer past its expiry shows 0 ms until it runs)."""
    same = [p for p in now if (p.lport, p.rport, p.kind) == (timer.lport, timer.rport, timer.kind)]
    return not same or all(p.due_ms > 0 for p in same)
