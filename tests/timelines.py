"""The fidelity guard's two halves: which scenarios it covers, and a run's timeline normalised.

A normalised timeline keeps what the kernel decided and the order the contract gives it (steps,
the packets and state changes of each, epoll results, counters, verdicts, notes) and drops what
changes from run to run whatever the code does: times, port numbers, TCP timestamps, how long a
call slept. ``scripts/record_timelines.py`` writes the reference (tests/data/timelines.json) from
the code as it is; ``tests/test_timelines.py`` compares a fresh run with it.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from conftest import CONNECT, SERVER, steps
from test_unseen import CASES

from tuiexplore.lab.evidence import ARMED
from tuiexplore.runner import RunResult
from tuiexplore.scenarios.scenario import Scenario, builtin_names, load, parse
from tuiexplore.timeline import Event, NoteEvent, PacketEvent, StepEvent, TimersEvent, VerdictEvent

_TS = re.compile(r"TS val \d+ ecr \d+")
_SACK = re.compile(r"\{\d+:\d+\}")  # absolute sequence numbers
_SECONDS = re.compile(r"\d+\.\d+ s\b")
_MS = re.compile(r"\b\d+ ms\b")


def scenarios() -> dict[str, Scenario]:
    """Every built-in and every held-out case of test_unseen, by name."""
    out = {f"builtin/{n}": load(n) for n in builtin_names()}
    for name, (body, _) in CASES.items():
        out[f"unseen/{name}"] = parse(steps(SERVER, CONNECT, body, title=name), f"{name}.toml", name)
    return out


def normalise(result: RunResult) -> list[dict[str, Any]]:
    """The run's events grouped by step, and within a step by type, each type in stream order.

    Packets come from one capture socket and state changes from one trace pipe, each in kernel
    order; how the two interleave in the stream depends on when the tracer's thread ran (under
    load a tracepoint reaches the agent after frames that followed it), so it is not compared.
    """
    ports = {result.info.port} if result.info else set()
    ports |= {p for e in result.events if isinstance(e, PacketEvent) for p in (e.sport, e.dport)}
    blocks: dict[Any, dict[str, Any]] = {}
    for e in result.events:
        if isinstance(e, NoteEvent) and ARMED in e.text:
            continue  # new since the reference: a step that leaves a timer armed names it (issue 20)
        if isinstance(e, TimersEvent):
            continue  # new since the reference (issue 21), and the time left is the machine's
        d = _event(e, ports)
        block = blocks.setdefault(d.pop("step", None), {})
        block.setdefault(d.pop("type"), []).append(d)
    return [{"n": n, **block} for n, block in blocks.items()]


def _event(e: Event, ports: set[int]) -> dict[str, Any]:
    d = e.to_dict()
    del d["t"]
    if isinstance(e, PacketEvent):
        del d["sport"], d["dport"]
        d["options"] = _SACK.sub("{SACK}", _TS.sub("TS", d["options"]))
    elif isinstance(e, StepEvent):
        if "port" in d["args"]:
            d["args"] = {**d["args"], "port": "PORT"}
        result = {k: v for k, v in d["result"].items() if k != "peer_port"}
        if "blocked_s" in result:  # how long it slept is the machine's; that it slept is the kernel's
            result["blocked_s"] = "SLEPT"
        if "timer" in result:  # a wait's timer: which is the kernel's, its time left the machine's
            result["timer"] = {k: v for k, v in result["timer"].items() if k not in ("due_ms", "text")}
        d["result"] = result
    elif isinstance(e, VerdictEvent):
        d["path"] = list(e.path)
        d.pop("advice", None)  # an added field since the reference (issue 23), derived from the branch compared here
    elif d["type"] == "note":
        text = _SECONDS.sub("N s", d["text"])
        if text.startswith("wait: "):  # how long the timer took (issue 21): 999 ms or 1.0 s
            text = _MS.sub("TIME", text).replace("N s", "TIME")
        for p in sorted(ports, key=lambda p: -len(str(p))):
            text = text.replace(str(p), "PORT")
        d["text"] = text
    return d


def comparable(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The timeline with each step's states read from the kernel at its end (source tcp_info, one
    read) in one order: they come in the order of their sockets' port numbers, which are random
    (the lab's port and the ephemeral ones), so two of them in one step may come either way."""
    out = []
    for blk in timeline:
        states = blk.get("state", [])
        polled = iter(sorted((s for s in states if s["source"] == "tcp_info"), key=lambda s: json.dumps(s, sort_keys=True)))
        if states:
            blk = {**blk, "state": [next(polled) if s["source"] == "tcp_info" else s for s in states]}
        out.append(blk)
    return out


def diff(want: list[dict[str, Any]], got: list[dict[str, Any]]) -> str:
    """A unified diff of two normalised timelines, one event a line ("" when equal)."""
    a, b = (_lines(x) for x in (want, got))
    return "".join(difflib.unified_diff(a, b, "reference", "this run", n=2))


def _lines(timeline: list[dict[str, Any]]) -> list[str]:
    return [
        f"step {blk['n']} {kind} {json.dumps(e, sort_keys=True)}\n"
        for blk in timeline
        for kind, events in sorted(blk.items())
        if kind != "n"
        for e in events
    ]
