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

from tuiexplore.lab.timers import KINDS, Pending, duration

NOTHING = "no timer is pending on any lab socket (any that was armed has fired): nothing to wait for"
POLL_S = 0.005
SLACK = 0.125  # the timer wheel's rounding up, at most this share of a timer's length
SLACK_MIN_S = 0.05


class TimerWait:
    def __init__(self, pending: Callable[[], list[Pending]], wait: Callable[[float], object]) -> None:
        """``pending``: the lab sockets' timers now, soonest first; ``wait``: the lab waits this
        long, handling what arrives meanwhile."""
        self.pending, self.wait = pending, wait

    def next(self, max_ms: int) -> tuple[Pending | None, str]:
        """The timer to wait for, or (None, why there is none within ``max_ms``: NOTHING when no
        lab socket has one, which is no error: in the explorer a timer runs out while the user
        reads, and then there is nothing left to wait for)."""
        now = self.pending()
        if not now:
            return None, NOTHING
        first = now[0]
        if first.due_ms > max_ms:
            return None, (
                f"the next timer is {first.line()}, beyond this wait's bound of {duration(max_ms)}; "
                f"give max_ms = {min(first.due_ms + 1000, 120_000)} to wait for it"
            )
        return first, ""

    def until_fired(self, timer: Pending) -> tuple[bool, float, str]:
        """Wait for it: (fired, seconds waited, what to say)."""
        t0 = time.time()
        self.wait(timer.due_ms / 1000)
        deadline = time.time() + max(SLACK_MIN_S, timer.due_ms / 1000 * SLACK)
        while not (fired := _fired(timer, self.pending())) and time.time() < deadline:
            self.wait(POLL_S)
        waited = time.time() - t0
        if not fired:
            return False, waited, f"{timer.line()}: it had not fired {waited:.2f} s later"
        took = duration(round(waited * 1000))
        return True, waited, f"wait: the {KINDS[timer.kind]} timer of {timer.actor} {timer.fd} ({timer.state}) fired after {took}"


def _fired(timer: Pending, now: list[Pending]) -> bool:
    """Gone from its socket, or armed again (a timer past its expiry shows 0 ms until it runs)."""
    same = [p for p in now if (p.lport, p.rport, p.kind) == (timer.lport, timer.rport, timer.kind)]
    return not same or all(p.due_ms > 0 for p in same)
