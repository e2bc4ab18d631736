#!/usr/bin/env python3
"""Where bench_tui's key -> packet row time goes, stage by stage, over its key loop.

Stamps, per step: the key; the driver thread's step announced; the first batch with a packet
posted by the lab's reader thread; the screen telling its panels (start, end); the screen's
frame timer ticking after that; the frame composed. Prints median and p95 of each stage in ms.
Run it for this tree or, with BENCH_TREE=DIR PYTHONPATH=DIR, for another checkout (as
bench_tui's --vs does), alternating, with the load average beside each.
Usage: scripts/profile_tui.py [STEPS]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_tui  # noqa: E402 - sets the tree measured (BENCH_TREE) and Textual's frame rate

# isort: split
from textual import events  # noqa: E402
from textual.screen import Screen  # noqa: E402

from tuiexplore.timeline import PacketEvent  # noqa: E402
from tuiexplore.tui import driver, explorer  # noqa: E402

STAGES = [
    ("key", "step", "key -> the driver thread's step"),
    ("step", "posted", "the lab's step -> the row's batch"),
    ("posted", "told", "the batch handed to the screen"),
    ("told", "told_end", "the panels told"),
    ("told_end", "tick", "the wait for the frame timer"),
    ("tick", "frame", "the frame's render"),
    ("key", "frame", "key to the row's frame"),
]
now: dict[str, float] = {}
steps: list[dict[str, float]] = []
rows_before = [0]  # the packet table's rows when the key came


def stamp(name: str) -> None:
    now.setdefault(name, time.perf_counter())


def wrap(owner: object, name: str, before=None, after=None) -> None:  # noqa: ANN001
    real = getattr(owner, name)

    def wrapped(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        if before:
            before(*a)
        result = real(*a, **kw)
        if after:
            after(*a)
        return result

    setattr(owner, name, wrapped)


def has_packet(events_: list) -> bool:  # noqa: ANN001
    return any(isinstance(e, PacketEvent) for e in events_)


def main() -> None:
    wrap(driver.LabDriver, "_post_step", before=lambda *a: stamp("step"))
    wrap(driver.LabDriver, "_post_events", before=lambda _self, evs, _g: has_packet(evs) and stamp("posted"))
    wrap(explorer, "add_events", before=lambda _s, _t, b: has_packet(b) and stamp("told"))
    wrap(explorer, "add_events", after=lambda _s, _t, b: has_packet(b) and stamp("told_end"))
    wrap(Screen, "_on_timer_update", before=lambda _s: "told_end" in now and stamp("tick"))
    real_event, real_display = bench_tui.TimedApp.on_event, bench_tui.TimedApp._display

    async def on_event(self, event: events.Event) -> None:  # noqa: ANN001
        if isinstance(event, events.Key):
            now.clear()
            now["key"] = time.perf_counter()
            rows_before[0] = len(self.table.packets) if self.table is not None else 0
        await real_event(self, event)

    def display(self, screen, renderable) -> None:  # noqa: ANN001
        real_display(self, screen, renderable)
        if self.frames and self.frames[-1][1] > rows_before[0] and "tick" in now and "frame" not in now:
            now["frame"] = self.frames[-1][0]
            steps.append(dict(now))

    bench_tui.TimedApp.on_event = on_event  # type: ignore[method-assign]
    bench_tui.TimedApp._display = display  # type: ignore[method-assign]
    asyncio.run(bench_tui.key_to_packet(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
    print(f"{bench_tui.TREE}, {len(steps)} steps, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for a, b, what in STAGES:
        ms = [(s[b] - s[a]) * 1000 for s in steps if a in s and b in s]
        print(f"  {what:<38} median {statistics.median(ms):6.1f}  p95 {bench_tui.pct(ms, 95):6.1f}  max {max(ms):6.1f}")


if __name__ == "__main__":
    main()
