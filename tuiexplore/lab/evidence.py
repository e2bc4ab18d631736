"""The evidence of one lab: captured frames and trace events, merged in kernel order, attributed
(``Attribution``) and emitted as timeline events; the frames and resets of the step under way
are kept for its verdict."""

from __future__ import annotations

import bisect
import os
import queue
import time
from collections.abc import Callable
from typing import Any

from tuiexplore.domain import SocketRow
from tuiexplore.lab.attribution import Attribution, Owner
from tuiexplore.lab.capture import Capture, Frame, RelativeSeq
from tuiexplore.lab.namespace import LabNamespace
from tuiexplore.lab.predict import Prediction
from tuiexplore.lab.verdict import judge
from tuiexplore.timeline import Event, StateEvent, VerdictEvent

QUIET_S = 0.06  # > the 40 ms minimum delayed ACK: a step's late ACK still belongs to it
SETTLE_MAX_S = 2.0
HOLD_S = 0.003


class Evidence:
    def __init__(
        self,
        capture: Capture,
        tracer: Any,
        who: Attribution,
        emit: Callable[[Event], None],
        rel: Callable[[float], float],
        sockets_of: Callable[[str], dict[str, SocketRow]],
    ) -> None:
        self.capture, self.tracer, self.who = capture, tracer, who
        self.emit, self.rel, self.sockets_of = emit, rel, sockets_of
        self.frames: list[Frame] = []
        self.relseq = RelativeSeq()
        self.held: list[tuple[float, Any]] = []  # drained but not yet emitted (see drain)
        self.step: int | None = None
        self.current: Owner | None = None  # (actor, fd) of the step under way
        self.step_frames: list[Frame] = []
        self.step_resets: list[Any] = []

    def begin_step(self, n: int, current: Owner) -> None:
        self.step, self.current = n, current
        self.step_frames, self.step_resets = [], []

    def end_step(self) -> None:
        self.step = self.current = None

    def settle(self, handle_next: Callable[[float], bool]) -> float:
        """Wait until the wire and the tracer have been quiet for QUIET_S and every frame the kernel
        queued for the capture has been read (bounded), handling whatever else arrives meanwhile."""
        t = time.time()
        last = t
        while time.time() - t < SETTLE_MAX_S:
            got = self.drain()
            now = time.time()
            if got:
                last = now
            behind = self.capture.pending()
            if now - last >= QUIET_S and not behind:
                break
            wait = max(QUIET_S - (now - last), 0.002 if behind else 0.0)
            if self.held:  # wake up when the oldest held item may go out
                wait = min(wait, max(0.0, self.held[0][0] + HOLD_S - now))
            handle_next(wait)
        self.drain(final=True)
        return time.time() - t

    def drain(self, final: bool = False) -> int:
        """Emit captured packets and trace events, merged in time order.

        Trace events reach us a little later than the frames they go with, so the newest items
        are held back for HOLD_S (except at the end of a step) to emit both in kernel order.
        """
        items = self.held
        got = len(items)
        for source in (self.capture.frames, self.tracer.events if self.tracer is not None else None):
            while source is not None:
                try:
                    item = source.get_nowait()
                except queue.Empty:
                    break
                items.append((item.ts, item))
        got = len(items) - got
        items.sort(key=lambda x: x[0])
        cut = len(items) if final else bisect.bisect_right(items, time.time() - HOLD_S, key=lambda x: x[0])
        self.held = items[cut:]
        for _, item in items[:cut]:
            if isinstance(item, Frame):
                self.on_frame(item)
            else:
                self.on_trace(item)
        return got

    def on_frame(self, f: Frame) -> None:
        src, dst = self.who.frame(
            f.sport, f.dport, f.flag_bits, f.payload_len, self.current if self.current and self.current[1] else None
        )
        self.frames.append(f)
        if self.step is not None:
            self.step_frames.append(f)
        seq, ack = self.relseq(f)
        self.emit(f.event(self.rel(f.ts), src, dst, seq, ack, self.step, len(self.frames)))

    def on_trace(self, ev: Any) -> None:
        if ev.event == "tcp_send_reset":
            if self.step is not None:
                self.step_resets.append(ev)
            return
        connecting = self.sockets_of(self.current[0]).get(self.current[1]) if self.current else None
        key = self.who.trace_key(ev.sport, ev.dport, connecting)
        old, new = ev.fields.get("oldstate", "?").removeprefix("TCP_"), ev.fields.get("newstate", "?").removeprefix("TCP_")
        actor, fd = self.who.state(key, new)
        self.state(ev.ts, actor, fd, old, new, "tracepoint", self.who.pending_of(key, fd))

    def verdicts(
        self, t: float, step: int, actor: str, call: str, preds: list[tuple[SocketRow, Prediction]], deltas: dict[str, int]
    ) -> list[VerdictEvent]:
        """Each prediction of this step judged against what its socket sent."""
        others = set(self.who.owners)
        frames, resets = self.step_frames, self.step_resets
        return [
            judge(
                t=t, step=step, actor=actor, call=call, sock=s, pred=p, frames=frames, resets=resets, deltas=deltas, others=others
            )
            for s, p in preds
        ]

    def state(self, ts: float, actor: str, fd: str, old: str, new: str, source: str, listener: str | None = None) -> None:
        self.emit(StateEvent(self.rel(ts), actor, fd, old, new, source, self.step, listener))

    def close(self) -> None:
        if self.tracer is not None:
            self.tracer.close()
            self.tracer = None
        self.capture.stop()


def start_tracer(ns: LabNamespace, port: int, off: bool, wake: Callable[[], None]) -> tuple[Any, str]:
    """(the tracer, "") when tracepoints run, else (None, why they do not)."""
    if off:
        return None, "tracepoints off (--no-trace)"
    if ns.mode != "root":
        return None, (
            "tracepoints unavailable: they need root (this lab runs unprivileged in a user namespace); "
            "verdicts use packets and counters"
        )
    from tuiexplore.lab import tracer

    try:
        path = tracer.find_tracefs(mount_if_missing=ns.private_mounts)
        t = tracer.Tracer(path, port, on_event=wake)
        t.start()
    except tracer.TracerUnavailable as exc:
        return None, f"tracepoints unavailable: {exc}; verdicts use packets and counters"
    if not t.has_reason:
        return t, f"kernel {os.uname().release} has no RST reasons in tcp_send_reset (added in 6.10)"
    return t, ""
