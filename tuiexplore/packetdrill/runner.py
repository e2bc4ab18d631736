"""The interpreter loop (packetdrill's ``run.c``): each event at its time (``clock``), checked as
packetdrill checks it; the first line that does not hold ends the run. ``a~b`` is a window,
``*`` any time, ``start...end`` a call that blocks until ``end`` while the script goes on.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tuiexplore.lab import counters
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.timeline import Event, NoteEvent, PacketEvent, StepEvent, VerdictEvent

from .clock import Clock, TimingError
from .events import LineEvent
from .ippacket import Live, build, decode
from .netdev import Netdev
from .reasons import Reasons
from .receipts import Awaiting, Receipts
from .run_packet import PacketError, Packets, options_text, show
from .script import Code, Command, Script, Syscall, TcpPacket, TimeKind, Word
from .script import Event as ScriptEvent
from .shell import translate
from .syscalls import Outcome, SyscallError, Syscalls, value
from .sysctls import apply
from .tcpinfo import evaluate
from .verdicts import Closing, children, row, tcp_info

ANY_TIME_WAIT = 10.0  # seconds a `*` packet may take
LATE_GRACE = 0.2  # seconds past a packet's window to wait, so a late packet is a timing error, not a timeout
NONBLOCKING_LIMIT = 1.0  # seconds a call without `...` may take before it counts as blocked


class Failure(Exception):
    """A line that did not hold: the text after ``FILE:LINE: ``; ``where`` (step, event) when it
    is not the line in hand (a blocking call found failed when the script comes back to it)."""

    def __init__(self, text: str, where: tuple[int, ScriptEvent] | None = None) -> None:
        super().__init__(text)
        self.where = where


@dataclass
class Pending:
    """A blocking call under way."""

    step: int
    event: ScriptEvent
    thread: threading.Thread
    end_usecs: int
    closing: Closing | None
    mark: int
    start_usecs: int = 0  # when the call was due: its return's tolerance counts from there
    outcome: Outcome | None = None
    error: str | None = None
    ended: float = 0.0


def _kind(ev: ScriptEvent) -> str:
    a = ev.action
    if isinstance(a, TcpPacket):
        return "inject" if a.inbound else "expect"
    return {Syscall: "syscall", Command: "shell", Code: "code"}[type(a)]


def packet_event(live: Live, rel: TcpPacket, src: str, dst: str, t: float, step: int) -> PacketEvent:
    """The contract's packet event, with the script's relative numbers."""
    return PacketEvent(
        t, src, dst, live.sport, live.dport, live.flags, rel.start_seq, rel.ack or 0, live.payload, live.win, step,
        options=options_text(rel.options if src == "peer" and rel.options else live.options),  # injected: as written
    )  # fmt: skip


class Runner:
    def __init__(
        self,
        script: Script,
        path: str,
        netdev: Netdev,
        tolerance_usecs: int,
        emit: Callable[[Event], None],
        unread_rule: str | None = None,
        reasons: Reasons | None = None,
        counted: bool = False,
        rules: ReceiveRules | None = None,
    ) -> None:
        self.script, self.path, self.dev, self.emit = script, path, netdev, emit
        percent = script.option("tolerance_percent")
        self.clock = Clock(tolerance_usecs, float(percent) if percent and percent.replace(".", "", 1).isdigit() else 12.5)
        tick = script.option("tcp_ts_tick_usecs")
        self.packets = Packets(netdev.addrs, int(tick) if tick and tick.isdigit() else None, tolerance_usecs)
        self.calls = Syscalls(netdev.addrs)
        self.unread_rule = unread_rule
        self.reasons = reasons or Reasons(None)
        self.seen: list[tuple[float, Live]] = []
        self.cursor = 0  # the next of ``seen`` a > line takes
        self.pending: Pending | None = None
        self.under_test: int | None = None  # the live fd %{ }% blocks read (the last one a call used)
        self.last_verdict: VerdictEvent | None = None
        self.receipts = Receipts(netdev.addrs, self.calls.fds, rules)
        self.awaiting: Awaiting | None = None  # the last inject's prediction, judged at the next event not a `>`
        self.step_no = 0
        self.counted = counted  # read the TCP counters around each injected segment (compare)
        self.took: dict[str, int] = {}

    # -- the loop

    def run(self) -> int:
        """0 when every line held, 1 otherwise."""
        self.clock.restart()
        self.dev.start()
        for n, ev in enumerate(self.script.events, 1):
            if not self.step(n, ev):
                return 1
        try:
            self._finish_pending()
        except Failure as f:
            self._fail(f.where, f)
            return 1
        self._pump()
        self._judge_receipt()
        return 0

    def step(self, n: int, ev: ScriptEvent) -> bool:
        self.step_no = n
        if not (isinstance(ev.action, TcpPacket) and not ev.action.inbound):
            self._judge_receipt()
        try:
            ok, text = self._event(n, ev)
        except (Failure, TimingError) as f:
            self._fail(f.where if isinstance(f, Failure) and f.where else (n, ev), f)
            return False
        self._pump()
        if not isinstance(ev.action, (Syscall, TcpPacket)):
            self.clock.done()
        self.emit(LineEvent(self.t(), n, ev.line, ev.source, _kind(ev), ok, text, self.took))
        self.took = {}
        return True

    def _fail(self, where: tuple[int, ScriptEvent] | None, f: Exception) -> None:
        self._pump()
        self._judge_receipt()
        n, ev = where or (self.step_no, self.script.events[self.step_no - 1])
        self.emit(LineEvent(self.t(), n, ev.line, ev.source, _kind(ev), False, f"{self.path}:{ev.line}: {f}"))

    def t(self) -> float:
        return self.clock.t()

    def _verify(self, kind: TimeKind, start: int, end: int | None, actual: int, what: str, since: int | None = None) -> None:
        if self.step_no > 1:  # the first event is the start: packetdrill checks from the second
            self.clock.verify(kind, start, end, actual, what, since)

    # -- events

    def _event(self, n: int, ev: ScriptEvent) -> tuple[bool | None, str]:
        a = ev.action
        if isinstance(a, Syscall):
            return self._syscall(n, ev, a)
        start, end = self.clock.times(ev)
        if isinstance(a, TcpPacket) and a.inbound:
            self.clock.wait(start)
            self._verify(ev.time.kind, start, end, self.clock.now_usecs(), "inbound packet")
            live = self.packets.inject(a)
            self._pump()  # what the kernel sent before: the receiver's view ends there
            expected = self.receipts.predict(live)
            t = self.t()
            was = counters.read() if self.counted else {}
            # Stamped before the write: what the kernel answers inside it is stamped later, and the
            # receiver's view (receipts.py) reads the segments in the order of their stamps.
            self.receipts.saw(self.dev.clock(), live)
            self.dev.write(build(live))  # the kernel takes it inside the write: its counters move here
            self.took = counters.delta(was, counters.read()) if self.counted else {}
            self.clock.done()
            written = self.dev.clock()
            self.awaiting = Awaiting(n, expected, len(self.seen), written) if expected is not None else None
            if expected is None:  # what the kernel does next answers this segment: no branch to cite
                self.last_verdict = None
            self.emit(packet_event(live, a, "peer", "local", t, n))
            return True, ""
        if isinstance(a, TcpPacket):
            return self._expect(ev, a, start, end)
        self.clock.wait(start)
        self._verify(
            ev.time.kind, start, end, self.clock.now_usecs(), "command" if isinstance(a, Command) else "data collection for code"
        )
        if isinstance(a, Command):
            plan = translate(a.text, ev.line)
            if plan.refused:
                raise Failure(f"refused `{plan.refused[0].text}`: {plan.refused[0].why}")
            for note in apply(plan.settings):
                self.emit(NoteEvent(self.t(), "warn", note, n))
            return True, ", ".join(f"{s.name}={s.value}" for s in plan.settings)
        out = evaluate(a.text, tcp_info(self.under_test) if self.under_test is not None else {})
        if out.ok is False:
            raise Failure(out.text)
        return out.ok, out.text

    def _expect(self, ev: ScriptEvent, want: TcpPacket, start: int, end: int | None) -> tuple[bool, str]:
        last = (end if end is not None else start) / 1e6
        deadline = (
            time.monotonic() + ANY_TIME_WAIT
            if ev.time.kind is TimeKind.ANY
            else self.clock.start + last + self.clock.tolerance_at(start) / 1e6 + LATE_GRACE
        )
        while self.cursor >= len(self.seen):
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(left):
                if self.cursor >= len(self.seen):
                    raise Failure(f"error handling packet: timed out waiting for packet: expected {show(want)}")
        when, live = self.seen[self.cursor]
        self.cursor += 1
        self.clock.done(self.clock.usecs(when))
        try:
            self.packets.check(live, want)
        except PacketError as e:
            self._judge_receipt()  # the segment the kernel answered: its branch says why
            reason = self._reason(live)
            raise Failure(f"error handling packet: {e}{f' reason {reason}' if reason else ''}{self._why()}") from None
        self._verify(ev.time.kind, start, end, self.clock.usecs(when), "outbound packet")
        reason = self._reason(live)
        return True, f"kernel reason {reason}" if reason else ""

    def _reason(self, live: Live) -> str | None:
        """The kernel's reason for an RST it sent (root, 6.10 on), None for other segments."""
        if not live.bits & 0x04:
            return None
        ends = (live.sport, live.dport)
        resets = [s for _, s in self.seen if s.bits & 0x04 and (s.sport, s.dport) == ends]
        return self.reasons.reason(next(k for k, s in enumerate(resets) if s is live), *ends)

    def _why(self) -> str:
        v = self.last_verdict
        if v is None:
            return ""
        what = "the injected segment" if v.call == "inject" else f"{v.call}()"
        return f" · {what} took the kernel's {v.branch} branch: {v.explanation}"

    def _judge_receipt(self) -> None:
        a, self.awaiting = self.awaiting, None
        if a is None:
            return
        self._pump()
        c = self.packets.conn
        sent = [(w, s) for w, s in self.seen[a.mark :] if (s.sport, s.dport) == (c.local_port, c.remote_port)]
        resets = [s for _, s in sent if s.bits & 0x04]
        verdict = self.receipts.judge(self.t(), a, sent, self._reason(resets[0]) if resets else None)
        self.last_verdict = verdict
        self.emit(verdict)

    def _pump(self, timeout: float = 0.0) -> bool:
        """Move what the device has read into ``seen``; True if anything of the script's came."""
        got = False
        self.dev.sync()
        deadline = time.monotonic() + timeout
        while True:
            try:
                sniffed = (
                    self.dev.packets.get(timeout=max(0.0, deadline - time.monotonic()))
                    if timeout
                    else self.dev.packets.get_nowait()
                )
            except queue.Empty:
                return got
            live = decode(sniffed.data)
            if live is None or not self.packets.ours(live):
                continue
            self.packets.observe(live)
            self.seen.append((sniffed.t, live))
            self.receipts.saw(sniffed.t, live)
            self.emit(
                packet_event(live, self.packets.relative(live), "local", "peer", sniffed.t - self.clock.start, self.step_no)
            )
            got = True
            timeout = 0.0  # one came: take the rest without waiting

    # -- system calls

    def _syscall(self, n: int, ev: ScriptEvent, call: Syscall) -> tuple[bool | None, str]:
        self._finish_pending()
        start, end = self.clock.times(ev)
        self.clock.wait(start)
        self._verify(ev.time.kind, start, end, self.clock.now_usecs(), "system call start")
        closing = self._closing(call)
        self._pump()
        p = Pending(n, ev, threading.Thread(target=lambda: None), 0, closing, len(self.seen), start)
        if call.end_usecs is not None:
            p.end_usecs = call.end_usecs + (start - ev.time.usecs if ev.time.kind is TimeKind.RELATIVE else 0)
        p.thread = threading.Thread(target=self._call, args=(p, call), daemon=True)
        p.thread.start()
        if call.end_usecs is not None:
            self.pending = p
            self.clock.done()
            return None, "blocking: the script goes on while the call waits"
        p.thread.join(NONBLOCKING_LIMIT)
        if p.thread.is_alive():
            raise Failure(f"expected non-blocking system call but it blocked for over {NONBLOCKING_LIMIT:.0f} s")
        self.clock.done(self.clock.usecs(p.ended))
        return True, self._complete(p)

    def _call(self, p: Pending, call: Syscall) -> None:
        try:
            p.outcome = self.calls.run(call)
        except SyscallError as e:
            p.error = str(e)
        except Exception as e:  # said on the line, not lost with this thread: the run goes on to its end
            p.error = f"{type(e).__name__}: {e}"
        p.ended = self.dev.clock()  # the clock of the packets' stamps: what the call sent is before

    def _closing(self, call: Syscall) -> Closing | None:
        disconnect = call.name == "connect" and len(call.args) > 1 and call.args[1] == Word("AF_UNSPEC")
        if call.name not in ("close", "shutdown") and not disconnect:
            return None
        try:
            fd = self.calls.live(call.args[0])
        except SyscallError:
            return None
        c = self.packets.conn
        how = value(call.args[1]) if call.name == "shutdown" and len(call.args) > 1 else None
        sock = row(fd, str(value(call.args[0])), c.local_port, c.remote_port, self.calls.read.get(fd, 0))
        kids = children(sock, [f for f in self.calls.fds.values() if f != fd]) if sock.state == "LISTEN" else None
        return Closing(call.name, how, sock, self.unread_rule, kids)

    def _finish_pending(self) -> None:
        p = self.pending
        if p is None:
            return
        self.pending = None
        limit = self.clock.start + p.end_usecs / 1e6 + self.clock.tolerance / 1e6 + LATE_GRACE
        p.thread.join(max(0.0, limit - time.monotonic()))
        try:
            if p.thread.is_alive():
                raise Failure(f"the blocking call did not return by {p.end_usecs / 1e6:.6f} sec")
            self._pump()
            text = self._complete(p)
            # As packetdrill's syscall thread: the return's tolerance grows with the time the call
            # blocked (a 1 s SO_LINGER timer fires up to 12.5% late), not since the event in hand.
            self._verify(TimeKind.ABSOLUTE, p.end_usecs, None, self.clock.usecs(p.ended), "system call return", p.start_usecs)
        except (Failure, TimingError) as f:
            raise Failure(str(f), (p.step, p.event)) from None
        self.emit(LineEvent(self.t(), p.step, p.event.line, p.event.source, "syscall", True, text))

    def _complete(self, p: Pending) -> str:
        """Check a call that has returned against its line; the step's events."""
        call = p.event.action
        assert isinstance(call, Syscall)
        if p.error is not None:
            raise Failure(f"runtime error in {call.name} call: {p.error}")
        out = p.outcome
        assert out is not None
        self.emit(StepEvent(self.t(), p.step, "local", call.name, {"line": p.event.source}, out.ret, out.errno, {}))
        self.under_test = out.new_fd if out.new_fd is not None else out.fd if out.fd is not None else self.under_test
        want = value(call.result)
        if call.name in ("socket", "accept", "accept4", "epoll_create") and want is not None and want >= 0:
            want = out.ret if out.ret >= 0 else want
        if want is not None and want != out.ret:
            got = f" with errno {out.errno}" if out.errno else ""
            raise Failure(f"runtime error in {call.name} call: Expected result {want} but got {out.ret}{got}")
        if call.errno and out.errno != call.errno and {out.errno, call.errno} != {"EAGAIN", "EWOULDBLOCK"}:
            raise Failure(f"runtime error in {call.name} call: Expected errno {call.errno} but got {out.errno}")
        expected = self.calls.expected(call)
        if expected is not None and out.value != expected:
            raise Failure(f"runtime error in {call.name} call: Bad {call.name} value: expected: {expected} actual: {out.value}")
        if p.closing is None:
            return ""
        self._pump()
        # What the call sent: a blocking one is judged after the script went on, and what its
        # socket sent after it returned (a FIN once the window reopened) is not the call's.
        sent = [live for when, live in self.seen[p.mark :] if when <= p.ended and live.sport == p.closing.sock.lport]
        resets = [live for live in sent if live.bits & 0x04]
        verdict = p.closing.judge(self.t(), p.step, sent, self._reason(resets[0]) if resets else None)
        self.last_verdict = verdict
        self.emit(verdict)
        return verdict.explanation
