#!/usr/bin/env python3
"""Benchmark the explorer: key press -> packet row on screen, and launch -> first interactive frame.

key_to_packet: over STEPS manual steps (client write "x", which puts a data packet and its ACK
on the wire), the time from the key reaching the app to the first frame composed with the
packet's row in the table (headless Textual, real lab): the first that drew the table once it
held the row, however soon after the row came (a poll for the row, then for a frame after it,
missed a frame drawn within the poll's 1 ms and then waited for the next one). first_frame: from spawning `python` to the
first frame the app composes (headless driver), and keys_frame to the first with the footer's keys;
median of RUNS launches. With --vs DIR (a baseline checkout), ROUNDS rounds (default 3) measure
this tree and DIR in turn, each in a process of its own: A/B, alternating.
Usage: scripts/bench_tui.py [STEPS] [RUNS] [--vs DIR [--rounds ROUNDS]]
Goals: key to packet p95 < 16.7 ms (one 60 Hz frame), first frame < 0.25 s, on an idle machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ab import env_for, loadavg, split_vs

ROOT = Path(__file__).resolve().parent.parent
TREE = Path(os.environ.get("BENCH_TREE", ROOT))  # whose tuiexplore is measured (--vs runs the baseline's)
sys.path.insert(0, str(TREE))

import tuiexplore.tui  # noqa: E402, F401 - sets Textual's frame rate before Textual is imported

# isort: split
from textual import events  # noqa: E402
from textual._compositor import LayoutUpdate  # noqa: E402

from tuiexplore.scenarios.scenario import load  # noqa: E402
from tuiexplore.tui.app import ExplorerApp  # noqa: E402
from tuiexplore.tui.packets import PacketTable  # noqa: E402


class TimedApp(ExplorerApp):
    """Notes when each key reaches the app, and each frame composed: when, and how many packets
    the packet table held if the frame drew it (-1: the frame left the table as it was)."""

    key_at = 0.0
    frames: list[tuple[float, int]]
    table: PacketTable | None = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.key_at = time.perf_counter()
        await super().on_event(event)

    def _display(self, screen, renderable) -> None:  # noqa: ANN001
        # Headless, the driver drops the frame, but it was composed all the same; the widgets
        # it drew are the screen's dirty ones until it returns (all of them in a full update).
        if renderable is not None:
            table = self.table
            drawn = table is not None and (table in screen._dirty_widgets or isinstance(renderable, LayoutUpdate))
            self.frames.append((time.perf_counter(), len(table.packets) if table is not None and drawn else -1))
        super()._display(screen, renderable)


FIRST_FRAME = """
import sys, time
t0 = float(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import tuiexplore.tui
from tuiexplore.scenarios.scenario import load
from tuiexplore.tui.app import ExplorerApp
frames, cpu = [], []
class FirstFrame(ExplorerApp):
    def _display(self, screen, renderable):
        if renderable is not None:
            keys = bool(screen.query("FooterKey"))
            if len(frames) < 1 + keys:
                frames.append(time.time() - t0)  # the first frame, then the first with the keys
                if len(frames) == 1:
                    cpu.append(time.process_time())  # the process's CPU by the first frame, all threads
            if keys:
                self.call_later(self.exit)
        super()._display(screen, renderable)
FirstFrame(load("seed-rst")).run(headless=True)
print(*cpu, *frames, flush=True)
"""


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def row_frame(app: TimedApp, before: int, seen: int) -> float:
    """The time of the first frame after the first ``seen`` that drew the table with more than
    ``before`` packets, however soon after the row came (0.0: none yet)."""
    return next((t for t, n in app.frames[seen:] if n > before), 0.0)


async def key_to_packet(steps: int) -> list[float]:
    app = TimedApp(load("read-then-close"))
    app.frames = []
    samples: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:

        async def until(cond, timeout=30.0):  # noqa: ANN001
            end = time.monotonic() + timeout
            while not cond():
                if time.monotonic() > end:
                    raise TimeoutError
                await asyncio.sleep(0.001)

        await until(lambda: app.explorer.info is not None)
        for _ in range(9):  # up to and including the accept: a connected pair
            await pilot.press("n")
        await until(
            lambda: (
                app.explorer.cursor == 9
                and app.explorer.pending == 0
                and app.explorer.check_action("manual", ("client", "write")) is True
            )
        )
        await pilot.pause(0.2)
        table = app.table = app.screen.query_one(PacketTable)
        for _ in range(steps):
            before, seen = len(table.packets), len(app.frames)
            # The key arrives as a terminal key would; Pilot.press adds its own waits for idleness.
            app.post_message(events.Key("w", "w"))
            await until(lambda b=before, f=seen: row_frame(app, b, f) > 0)
            samples.append((row_frame(app, before, seen) - app.key_at) * 1000)
            await until(lambda: app.explorer.pending == 0)
            await pilot.pause(0.08)  # let the step settle before the next key
    return samples


def first_frame(runs: int) -> list[tuple[float, float, float]]:
    """(first frame, first frame with keys, CPU by the first frame) per launch, in seconds from
    spawning python; the CPU moves far less with the machine's load than the wall time."""
    out = []
    for i in range(runs + 1):  # the first launch writes the bytecode caches (env_for)
        t0 = time.time()
        cmd = [sys.executable, "-c", FIRST_FRAME, str(t0), str(TREE)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env_for(TREE), cwd=TREE)
        cpu, first, keys = map(float, p.stdout.split()[-3:])
        if i:
            out.append((first, keys, cpu))
    return out


def measure(steps: int, runs: int) -> dict[str, list[float]]:
    k = asyncio.run(key_to_packet(steps))
    launches = first_frame(runs)
    return {"key": k, "first": [a for a, _, _ in launches], "keys": [b for _, b, _ in launches], "cpu": [c for *_, c in launches]}


def table(m: dict[str, list[float]], label: str = "") -> None:
    k, f, fk, fc = m["key"], m["first"], m["keys"], m["cpu"]
    print(f"{'measure' + label:<22} {'n':>4} {'median':>9} {'p95':>9} {'max':>9}")
    print(f"{'key_to_packet (ms)':<22} {len(k):>4} {statistics.median(k):>9.1f} {pct(k, 95):>9.1f} {max(k):>9.1f}")
    print(f"{'first_frame (s)':<22} {len(f):>4} {statistics.median(f):>9.3f} {pct(f, 95):>9.3f} {max(f):>9.3f}")
    print(f"{'keys_frame (s)':<22} {len(fk):>4} {statistics.median(fk):>9.3f} {pct(fk, 95):>9.3f} {max(fk):>9.3f}")
    print(f"{'first_frame_cpu (s)':<22} {len(fc):>4} {statistics.median(fc):>9.3f} {pct(fc, 95):>9.3f} {max(fc):>9.3f}")


def ab(steps: int, runs: int, rounds: int, base: Path) -> None:
    """Each round measures this tree, then the baseline, each in a fresh process."""
    got: dict[Path, list[dict[str, list[float]]]] = {ROOT: [], base: []}
    for _ in range(rounds):
        for tree in (ROOT, base):
            env = {**env_for(tree), "BENCH_TREE": str(tree)}
            cmd = [sys.executable, __file__, str(steps), str(runs), "--samples"]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tree, check=True)
            got[tree].append(json.loads(p.stdout.splitlines()[-1]))
    pooled = {t: {k: [x for r in got[t] for x in r[k]] for k in ("key", "first", "keys", "cpu")} for t in got}
    table(pooled[ROOT], " (A: this tree)")
    table(pooled[base], f" (B: {base})")
    a_p95, b_p95 = [pct(r["key"], 95) for r in got[ROOT]], [pct(r["key"], 95) for r in got[base]]
    a_first, b_first = [statistics.median(r["first"]) for r in got[ROOT]], [statistics.median(r["first"]) for r in got[base]]
    print(f"{rounds} rounds, A then B, {loadavg()}")
    print(f"key_to_packet_p95_ms={pct(pooled[ROOT]['key'], 95):.1f}")
    print(f"key_to_packet_p95_ms_base={pct(pooled[base]['key'], 95):.1f}")
    print(f"key_to_packet_p95_ab_ratio={statistics.median(a / b for a, b in zip(a_p95, b_p95, strict=True)):.2f}")
    print(f"first_frame_s={statistics.median(pooled[ROOT]['first']):.3f}")
    print(f"first_frame_s_base={statistics.median(pooled[base]['first']):.3f}")
    print(f"first_frame_ab_ratio={statistics.median(a / b for a, b in zip(a_first, b_first, strict=True)):.2f}")
    a_cpu, b_cpu = [statistics.median(r["cpu"]) for r in got[ROOT]], [statistics.median(r["cpu"]) for r in got[base]]
    print(f"first_frame_cpu_s={statistics.median(pooled[ROOT]['cpu']):.3f}")
    print(f"first_frame_cpu_s_base={statistics.median(pooled[base]['cpu']):.3f}")
    print(f"first_frame_cpu_ab_ratio={statistics.median(a / b for a, b in zip(a_cpu, b_cpu, strict=True)):.2f}")


def main() -> None:
    argv, base = split_vs(sys.argv[1:])
    rounds = 3
    if "--rounds" in argv:
        i = argv.index("--rounds")
        rounds = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    samples = "--samples" in argv  # one side of an A/B round: the raw figures, as JSON
    argv = [a for a in argv if a != "--samples"]
    steps = int(argv[0]) if argv else 100
    runs = int(argv[1]) if len(argv) > 1 else 5
    if base is not None:
        ab(steps, runs, rounds, base)
        return
    m = measure(steps, runs)
    if samples:
        print(json.dumps(m))
        return
    table(m)
    print(loadavg())
    print(f"key_to_packet_p95_ms={pct(m['key'], 95):.1f}")
    print(f"first_frame_s={statistics.median(m['first']):.3f}")
    print(f"first_frame_cpu_s={statistics.median(m['cpu']):.3f}")


if __name__ == "__main__":
    main()
