"""Per-segment control: what the relay does with the next segments one side sends.

A scenario's (or a user's) ``hold``, ``drop``, ``duplicate`` and ``delay`` are rules for the
next matching segments of one direction (a ``hold`` without a count: every one, retransmissions
included, until the direction's next ``release``); ``release`` delivers held segments, all in
order or one by its packet number (out of order: a reorder). The relay's thread asks ``decide`` for every TCP
segment it reads; the lab's thread adds rules and releases. Every decision but "pass" is logged
for the lab to say, with the packet's number, in the step it happened in.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from tuiexplore.lab.capture import Frame

PASS, HOLD, DROP, DUPLICATE, DELAY = "pass", "hold", "drop", "duplicate", "delay"
FLAG_LETTERS = "FSRPUEW."


@dataclass
class Rule:
    action: str
    flags: str = ""  # tcpdump letters the segment must all carry ("" any segment)
    count: int | None = 1  # segments still to match; None: every one until the side's release
    ms: int = 0  # delay

    def matches(self, frame: Frame) -> bool:
        return all(letter in frame.flags for letter in self.flags)


@dataclass(frozen=True)
class Held:
    frame: Frame
    to: str  # the side it is going to
    data: bytes


class Controls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, list[Rule]] = {}
        self.held: list[Held] = []
        self.undelivered: set[int] = set()  # id() of the frames dropped or still held
        self.injected: set[int] = set()  # id() of the frames the scripted peer made
        self.log: queue.SimpleQueue[tuple[Frame, str, str]] = queue.SimpleQueue()  # (frame, from side, what was done)

    def add(self, side: str, rule: Rule) -> None:
        with self._lock:
            self._rules.setdefault(side, []).append(rule)

    def decide(self, side: str, frame: Frame) -> Rule | None:
        """The rule this segment falls under (used up by it), or None: pass it on."""
        with self._lock:
            rules = self._rules.get(side, [])
            for rule in rules:
                if rule.matches(frame):
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count == 0:
                            rules.remove(rule)
                    return rule
        return None

    def end_holds(self, side: str) -> None:
        """A release ends the side's open-ended holds (those without a count)."""
        with self._lock:
            self._rules[side] = [r for r in self._rules.get(side, []) if not (r.action == HOLD and r.count is None)]

    def hold(self, held: Held) -> None:
        with self._lock:
            self.held.append(held)
            self.undelivered.add(id(held.frame))

    def dropped(self, frame: Frame) -> None:
        with self._lock:
            self.undelivered.add(id(frame))

    def take(self, to: str, frame: Frame | None) -> list[Held]:
        """The held segments going ``to`` a side to deliver now: all (``frame`` None) or that
        one; [] if it is not held."""
        with self._lock:
            out = [h for h in self.held if h.to == to and (frame is None or h.frame is frame)]
            self.held = [h for h in self.held if h not in out]
            self.undelivered -= {id(h.frame) for h in out}
        return out

    def is_held(self, frame: Frame) -> bool:
        with self._lock:
            return any(h.frame is frame for h in self.held)
