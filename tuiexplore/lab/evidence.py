"""The evidence of one lab: captured frames and trace events, merged in kernel order, attributed
(``Attribution``) and emitted as timeline events; the frames and resets of the step under way
are kept for its verdict."""

from __future__ import annotations

import bisect
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from tuiexplore.domain import SocketRow
from tuiexplore.lab import procnet
from tuiexplore.lab.acks import Acks
from tuiexplore.lab.attribution import Attribution, Owner
from tuiexplore.lab.capture import Delivered, Frame, FrameSource, RelativeSeq, Withheld
from tuiexplore.lab.namespace import LabNamespace
from tuiexplore.lab.predict import Prediction
from tuiexplore.lab.procnet import Timer
from tuiexplore.lab.settling import POLL_S, SENDING_TIMERS, Settling
from tuiexplore.lab.verdict import judge
from tuiexplore.timeline import Event, NoteEvent, StateEvent, VerdictEvent

SETTLE_MAX_S = 2.0
HOLD_S = 0.003
ARMED = " is armed, due in "  # how a note names a timer a step leaves armed (name_timers)


class Evidence:
    def __init__(
        self,
        capture: FrameSource,
        tracer: Any,
        who: Attribution,
        emit: Callable[[Event], None],
        rel: Callable[[float], float],
        sockets_of: Callable[[str], dict[str, SocketRow]],
        timers: Callable[[Iterable[procnet.Key]], list[Timer]] = procnet.lookup_timers,
    ) -> None:
        """``timers``: the lab sockets' armed timers, looked up where the wire's sockets live."""
        self.timers = timers
        self.capture, self.tracer, self.who = capture, tracer, who
        self.emit, self.rel, self.sockets_of = emit, rel, sockets_of
        self.frames: list[Frame] = []
        self.relseq = RelativeSeq()
        self.held: list[tuple[float, Any]] = []  # drained but not yet emitted (see drain)
        self.step: int | None = None
        self.current: Owner | None = None  # (actor, fd) of the step under way
        self.step_frames: list[Frame] = []
        self.step_resets: list[Any] = []
        self.acks = Acks()
        self.named: set[tuple[int, int, int]] = set()  # timers a note has named (name_timers)

    def begin_step(self, n: int, current: Owner) -> None:
        self.step, self.current = n, current
        self.step_frames, self.step_resets = [], []

    def end_step(self) -> None:
        self.step = self.current = None

    def settle(self, handle_next: Callable[[float], bool]) -> float:
        """Wait until the kernel is done with the step (``Settling.still_to_come``), handling
        whatever arrives meanwhile; bounded by SETTLE_MAX_S."""
        t = time.time()
        settling = Settling(self.capture, self.tracer, self.acks, self.keys, self.timers)
        while (now := time.time()) - t < SETTLE_MAX_S:
            # Nothing is emitted while the wire has carried frames the capture has not read: a state
            # change would otherwise go out before the frame it follows (and that names its owner).
            caught_up = self.capture.caught_up()
            if caught_up:
                self.drain()
            held = [ts for ts, item in self.held if isinstance(item, Frame | Withheld | Delivered)]
            if not caught_up:
                wait = POLL_S
            elif held:  # the wire is judged on the frames that have been through on_frame
                wait = min(held) + HOLD_S - time.time()
            else:
                more = settling.still_to_come(time.time())
                if more is None:
                    break
                wait = more
            handle_next(min(max(wait, 0.0005), t + SETTLE_MAX_S - now))
        self.drain(final=True)
        self.name_timers(settling.timers)
        return time.time() - t

    def keys(self) -> set[tuple[int, int]]:
        """(local port, remote port) of every lab socket /proc/net/tcp would list: the actors'
        listeners, and every end that has been on the wire or in an actor's table."""
        keys = set(self.who.owners) | set(self.who.known_state) | {(lport, 0) for lport in self.who.listeners}
        return keys | {(sport, dport) for _, sport, _, dport in self.acks.ends()}

    def name_timers(self, timers: list[Timer]) -> None:
        """A timer that will send (a retransmission, a zero-window probe) and is not due within
        the step is named once, in the step that leaves it armed: what it sends comes later."""
        armed = {(t.lport, t.rport, t.kind): t for t in timers if t.kind in SENDING_TIMERS}
        for key, t in armed.items():
            if key not in self.named:
                actor, fd = self.who.owner(t.lport, t.rport)
                text = (
                    f"{actor} {fd}: its {t.describe()}{ARMED}{max(t.due_s, 0):.2f} s "
                    f"({t.unacked} bytes sent or queued, not acked); what it sends will come in a later step"
                )
                self.emit(NoteEvent(self.rel(time.time()), "info", text, self.step))
        self.named = set(armed)

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
            elif isinstance(item, Withheld):
                self.on_frame(item.frame, delivered=False)
            elif isinstance(item, Delivered):
                self.acks.delivered(item.frame, item.ts, self.step)
            else:
                self.on_trace(item)
        return got

    def on_frame(self, f: Frame, delivered: bool = True) -> None:
        src, dst = self.who.frame(
            f.sport, f.dport, f.flag_bits, f.payload_len, self.current if self.current and self.current[1] else None
        )
        self.frames.append(f)
        step = self.acks.frame(f, self.step, delivered)  # a late ACK is its own step's, not the current one's
        if step is not None and step == self.step:
            self.step_frames.append(f)
        seq, ack = self.relseq(f)
        self.emit(f.event(self.rel(f.ts), src, dst, seq, ack, step, len(self.frames)))

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
        # Removing the tracer's tracefs instance and closing the capture's packet socket each
        # wait for the kernel (RCU grace periods): side by side, not one after the other.
        tracer, self.tracer = self.tracer, None
        closing = threading.Thread(target=tracer.close, name="tracer-close") if tracer is not None else None
        if closing is not None:
            closing.start()
        try:
            self.capture.stop()
        finally:
            if closing is not None:
                closing.join()


class TracerStart:
    """``start_tracer`` on a thread of its own, while the agent starts its capture and waits for
    its actors' first answers: the tracefs instance's set-up waits for the kernel (setting its
    trace clock resets the ring buffer, an RCU grace period: 20-30 ms on a busy host)."""

    def __init__(self, ns: LabNamespace, port: int, off: bool, wake: Callable[[], None]) -> None:
        self._started: tuple[Any, str] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(ns, port, off, wake), name="tracer-start", daemon=True)
        self._thread.start()

    def _run(self, *args: Any) -> None:
        try:
            self._started = start_tracer(*args)
        except BaseException as exc:  # noqa: BLE001 - raised again in the agent's main thread
            self._error = exc

    def result(self) -> tuple[Any, str]:
        """``start_tracer``'s: (the tracer, "") or (None, why not); its exception, if it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._started is not None
        return self._started

    def close(self) -> None:
        """The lab failed to start: the tracer made meanwhile, if any, is closed."""
        self._thread.join()
        if self._started is not None and self._started[0] is not None:
            self._started[0].close()


def start_tracer(ns: LabNamespace, port: int, off: bool, wake: Callable[[], None]) -> tuple[Any, str]:
    """(the tracer, "") when tracepoints run, else (None, why they do not)."""
    if off:
        return None, "tracepoints off (--no-trace)"
    if ns.mode != "root":
        return None, (
            "tracepoints unavailable: they need root (this lab runs unprivileged in a user namespace); "
            "verdicts use packets and counters"
        )
    from tuiexplore.lab import tracepoints

    try:
        path = tracepoints.find_tracefs(mount_if_missing=ns.private_mounts)
        t = tracepoints.Tracer(path, port, on_event=wake)
        t.start()
    except tracepoints.TracerUnavailable as exc:
        return None, f"tracepoints unavailable: {exc}; verdicts use packets and counters"
    if not t.has_reason:
        return t, f"kernel {os.uname().release} has no RST reasons in tcp_send_reset (added in 6.10)"
    return t, ""
