"""When the traced programs and their wire are done for now, by what the kernel says (as the lab's
``lab/settling.py``), not by a quiet period: a closing call is predicted once nothing is under way
and judged once what it set off is over.

Under way means: a frame lo carried that the capture has not read (``Capture.mark``); a timer
of one of the programs' connections due within HORIZON_S (sock_diag); or a traced task that is
running, or stopped at a stop the tracer has not handed on yet (/proc/<pid>/task/<tid>/stat:
only a task asleep in the kernel, or parked by us, is quiet). An ACK a peer delays (up to
200 ms) is not waited for, here unlike the lab: the program itself would not wait for it either.
It is attributed when it comes, to the step whose segment it answers (``Acks.frame``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from tuiexplore.lab import sockdiag
from tuiexplore.lab.acks import Acks
from tuiexplore.lab.settling import HORIZON_S, TIME_WAIT
from tuiexplore.trace.frames import FrameMatcher

ASLEEP = "SDIXZ"  # in the kernel waiting (S, D), idle, or dead: none of these will make a call now
STOPPED = "tT"


class Quiet:
    def __init__(self, matcher: FrameMatcher) -> None:
        self.matcher = matcher
        self.acks = Acks()
        self._mark: int | None = None  # the capture's barrier for the look under way

    def settled(self, now: float, pids: Iterable[int], parked: set[int]) -> bool:
        """Nothing is under way (``parked``: the tids we hold at a stop on purpose)."""
        if self._mark is None:
            self._mark = self.matcher.mark()
        if not self.matcher.caught_up(self._mark):
            return False
        quiet = self._tasks_quiet(pids, parked) and not self.timer_due()
        self._mark = None  # the next look takes a new barrier: frames sent since count then
        return quiet

    def wire_done(self, mark: int) -> bool:
        """The frames lo had carried at ``mark`` are read and no timer is about to fire."""
        return self.matcher.caught_up(mark) and not self.timer_due()

    def timer_due(self) -> bool:
        """A retransmit or zero-window probe timer about to fire: only a sender with data not
        acked, or facing a zero window, has one (``Acks.outstanding``), so only those are asked."""
        flows = self.acks.outstanding()
        return bool(flows) and any(d.timer != TIME_WAIT and d.expires_ms / 1000 <= HORIZON_S for d in sockdiag.lookup(flows))

    @staticmethod
    def _tasks_quiet(pids: Iterable[int], parked: set[int]) -> bool:
        for pid in pids:
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue  # gone
            for tid in tids:
                state = _state(f"/proc/{pid}/task/{tid}/stat")
                if state in ASLEEP or (state in STOPPED and int(tid) in parked):
                    continue
                return False
        return True


def _state(path: str) -> str:
    try:
        with open(path, "rb") as f:
            stat = f.read()
    except OSError:
        return "X"
    return chr(stat[stat.rindex(b")") + 2])  # after "pid (comm) ": comm may hold spaces and parens
