#!/usr/bin/env python3
"""Runs built-in scenarios headless, one after the other, and signals some of them at random
points; then counts what the runs left behind. Every count should be 0.

Usage: scripts/soak_signals.py [--runs 100] [--signals 80] [--seed N]

A signal goes where it would come from: SIGINT and SIGHUP to the run's whole process group (a
Ctrl-C, a terminal that went away), SIGTERM and SIGKILL to the tuiexplore process only (a
supervisor). Leftovers are counted for this script's own runs only (other labs on the machine are
not looked at): processes of a run still alive after it ended, network namespaces of its lab
still held by a process, tracefs instances named after one of its processes, and files in the
private TMPDIR the runs were given. A tracefs instance found right after a run (before the next
lab starts, which removes stale ones) counts as a leftover, since that is what a killed lab left.
The last line is ``leftovers=<n>``; the exit status is 1 when it is not 0.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tuiexplore.lab.tracepoints import PREFIX, TRACEFS_PATHS  # noqa: E402
from tuiexplore.scenarios.scenario import builtin_names  # noqa: E402

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL)
TO_GROUP = (signal.SIGINT, signal.SIGHUP)


@dataclass
class Seen:
    """Everything a run started, as (pid, create_time) so a reused pid is not mistaken for it."""

    procs: dict[int, float] = field(default_factory=dict)
    netns: set[str] = field(default_factory=set)

    def look(self, root: psutil.Process) -> None:
        try:
            kids = root.children(recursive=True)
        except psutil.Error:
            return
        for p in kids:
            try:
                self.procs.setdefault(p.pid, p.create_time())
                self.netns.add(os.readlink(f"/proc/{p.pid}/ns/net"))
            except (psutil.Error, OSError):
                pass


def alive(procs: dict[int, float]) -> list[int]:
    out = []
    for pid, created in procs.items():
        try:
            p = psutil.Process(pid)
            if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.Error:
            pass
    return out


def held_netns(wanted: set[str], ours: set[int]) -> tuple[set[str], dict[str, str]]:
    """The namespaces in ``wanted`` still alive: (held by one of our processes or a bind mount,
    held only by some other process). nsfs inode numbers are reused once a namespace is freed,
    so the second set is another lab on this machine that got the same number, not a leftover."""
    mine: set[str] = set()
    other: dict[str, str] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        links = [f"/proc/{pid}/ns/net"]
        try:
            links += [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            pass
        for link in links:
            try:
                target = os.readlink(link)
            except OSError:
                continue
            if target in wanted:
                if int(pid) in ours:
                    mine.add(target)
                else:
                    other[target] = _cmd(int(pid))
    with open("/proc/self/mountinfo") as f:
        mine |= {ns for line in f for ns in wanted if ns in line}  # `ip netns add` style bind mounts
    return mine, {ns: cmd for ns, cmd in other.items() if ns not in mine}


def _cmd(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())[:100]
    except psutil.Error:
        return "?"


def tracefs_instances(pids: set[int]) -> list[str]:
    out = []
    for base in TRACEFS_PATHS:
        try:
            names = os.listdir(os.path.join(base, "instances"))
        except OSError:
            continue
        out += [n for n in names if n.startswith(PREFIX) and n[len(PREFIX) :].isdigit() and int(n[len(PREFIX) :]) in pids]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--signals", type=int, default=80, help="how many of the runs get a signal (default 80)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    names = builtin_names()
    signalled = set(rng.sample(range(args.runs), min(args.signals, args.runs)))
    tmp = tempfile.mkdtemp(prefix="soak-signals-")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": tmp}
    host_ns = os.readlink("/proc/self/ns/net")
    everything = Seen()
    tracefs_after_run: list[str] = []
    statuses: dict[str, int] = {}
    sent: dict[str, int] = {}
    owed: list[signal.Signals] = []
    tracebacks = hangs = 0
    t_start = time.monotonic()
    print(f"seed={seed} runs={args.runs} signalled={len(signalled)} tmpdir={tmp}", flush=True)
    for i in range(args.runs):
        name = names[i % len(names)]
        if i in signalled:
            owed.append(rng.choice(SIGNALS))
        sig = owed[0] if owed else None  # one a run ended too soon for is sent to the next run
        delay = rng.uniform(0.0, 1.5)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tuiexplore", "run", name, "--text"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own group: a group signal reaches this run only
            preexec_fn=_default_signals,
        )
        root, seen, t0, last_sig = psutil.Process(proc.pid), Seen(), time.monotonic(), None
        t_sent = t0
        while proc.poll() is None and time.monotonic() - t0 < 60:
            seen.look(root)
            if sig is not None and time.monotonic() - t0 >= delay:
                try:
                    os.killpg(proc.pid, sig) if sig in TO_GROUP else os.kill(proc.pid, sig)
                except ProcessLookupError:
                    pass
                sent[sig.name] = sent.get(sig.name, 0) + 1
                last_sig, t_sent = sig.name, time.monotonic()
                owed.pop(0)
                sig = None
            time.sleep(0.02)
        if proc.poll() is None:
            hangs += 1
            proc.kill()
        err = proc.communicate()[1].decode(errors="replace")
        if "Traceback" in err:
            tracebacks += 1
            tail = " | ".join(err.strip().splitlines()[-3:])
            print(f"  run {i + 1} ({name}, {last_sig or 'no signal'} at {delay:.2f} s): traceback: {tail}", flush=True)
        rc = proc.returncode
        key = f"{rc}" if rc >= 0 else f"killed by {signal.Signals(-rc).name}"
        if rc < 0 and rc != -signal.SIGKILL:  # tuiexplore handles these: say how early it came
            print(f"  run {i + 1} ({name}): {key}, the signal sent {t_sent - t0:.2f} s after start")
        statuses[key] = statuses.get(key, 0) + 1
        psutil.wait_procs([p for p in map(_proc, alive(seen.procs)) if p], timeout=5)
        tracefs_after_run += tracefs_instances(set(seen.procs) | {proc.pid})
        everything.procs.update(seen.procs)
        everything.netns |= seen.netns
        if (i + 1) % 10 == 0:
            print(f"  {i + 1} runs, {time.monotonic() - t_start:.0f} s", flush=True)
    left_procs = alive(everything.procs)
    left_ns, reused_ns = held_netns(everything.netns - {host_ns}, set(left_procs))
    left_tracefs = sorted(set(tracefs_after_run) | set(tracefs_instances(set(everything.procs))))
    left_files = sorted(str(p.relative_to(tmp)) for p in Path(tmp).rglob("*"))
    print(
        f"signals sent: {sum(sent.values())} ({', '.join(f'{k}: {v}' for k, v in sorted(sent.items()))}), not sent: {len(owed)}"
    )
    print(f"exit statuses: {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}")
    print(f"tracebacks on stderr: {tracebacks}; runs that hung (60 s): {hangs}")
    print(f"leftover processes: {len(left_procs)} {left_procs or ''}")
    print(f"leftover network namespaces: {len(left_ns)} {sorted(left_ns) or ''}")
    if reused_ns:
        example = next(iter(reused_ns.values()))
        print(f"  (not counted: {len(reused_ns)} namespace numbers now used by other processes, e.g. {example})")
    print(f"leftover tracefs instances: {len(left_tracefs)} {left_tracefs or ''}")
    print(f"leftover temp files: {len(left_files)} {left_files[:5] or ''}")
    if not left_files:
        os.rmdir(tmp)
    total = len(left_procs) + len(left_ns) + len(left_tracefs) + len(left_files)
    print(f"leftovers={total}")
    return 1 if total else 0


def _default_signals() -> None:
    """Started from `nohup` or `&`, this script ignores HUP or INT, and so would every run."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _proc(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
