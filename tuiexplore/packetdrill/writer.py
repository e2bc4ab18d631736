"""A finished lab session written as a packetdrill script (``run --pkt FILE``, ``session.pkt``).

One actor is the script's socket side: its syscalls become script lines with the results the
kernel gave, and the segments its kernel sent become ``>`` lines (what a replay must see it
send). Everything the other actors' kernels (or the relay's scripted peer) sent it becomes
``<`` lines, injected when they arrived. By default the side is the actor of the session's
first judged closing call (the close the session is about); ``side`` chooses another.
Times are relative, to the millisecond, from the lab's clock; a call during which the remote
end had to answer (a blocking connect, a lingering close, anything that slept) is written
as packetdrill's blocking ``start...end`` form, since a replay's peer is the script itself.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from tuiexplore import __version__
from tuiexplore.lab.calls import CALLS, LAB_CALLS, WIRE_CALLS, is_closing
from tuiexplore.packetdrill.delivery import Delivery, delivery
from tuiexplore.packetdrill.shell import translate
from tuiexplore.packetdrill.write_calls import Fds, calls, comment_text
from tuiexplore.packetdrill.write_segments import Numbers, segment
from tuiexplore.reports.transcript import call_text
from tuiexplore.timeline import Event, NoteEvent, PacketEvent, StepEvent, VerdictEvent

# The lab's steps run a few ms apart and the kernel's timers fire to the jiffy (4 ms at HZ=250):
# the tolerance the kernel's own packetdrill runner gives slow machines.
TOLERANCE_USECS = 14000
_IPV4_TCP_HEADERS = 40  # the lab's sockets are IPv4: an MSS is the MTU less 20 + 20 bytes
LATER = "Written later than in the session by"  # the comment before a line after a silent timer
# lab/inbox.py's note for a call that blocked past its step and came back later
_LATE = re.compile(r"^step (\d+): \S+ \w+\(\) returned (-?\d+)(?: \((\w+)\))? after")


class WriteError(ValueError):
    """The session cannot be written as asked: one line."""


@dataclass(frozen=True)
class Origin:
    """What made the script, for its header."""

    scenario: str
    title: str
    kernel: str
    release: str
    wire: str = "loopback"
    where: str = ""


@dataclass(order=True)
class _Line:
    t: float
    order: float  # the event's place in the timeline: lines at the same time keep it
    text: str = field(compare=False)  # after the time; "" for a comment only
    end: float | None = field(default=None, compare=False)  # a blocking call's return
    comments: list[str] = field(default_factory=list, compare=False)
    timer: bool = field(default=False, compare=False)  # the lab waited here for a kernel timer


def actors(events: list[Event]) -> list[str]:
    """The actors that made syscalls, in order of their first one."""
    return list(dict.fromkeys(e.actor for e in events if isinstance(e, StepEvent) and e.call not in (*WIRE_CALLS, *LAB_CALLS)))


def script_side(events: list[Event], asked: str | None = None) -> str:
    who = actors(events)
    if asked is not None:
        if asked not in who:
            raise WriteError(f"--pkt-side {comment_text(asked)}: not an actor of this session ({', '.join(who) or 'none'})")
        return asked
    verdict = next((e.actor for e in events if isinstance(e, VerdictEvent)), None)
    closing = next((e.actor for e in events if isinstance(e, StepEvent) and e.call in CALLS and is_closing(e.call, e.args)), None)
    side = verdict or closing or (who[0] if who else None)
    if side is None:
        raise WriteError("the session made no syscall: there is no script to write")
    return side


def write(events: list[Event], origin: Origin, side: str | None = None, sysctls: Mapping[str, str] | None = None) -> str:
    """The script's text. ``sysctls``: the lab settings the session ran with (name -> value)."""
    me = script_side(events, side)
    segments = _segments(events, me, delivery(events))
    arrivals = sorted(x.t for x in segments if x.text.startswith("<"))
    lines = sorted(segments + _syscalls(events, me, arrivals))
    if not any(x.text for x in lines):
        raise WriteError(f"none of {comment_text(me)}'s calls returned and no segment reached it: there is no script to write")
    own = sum(1 for p in events if isinstance(p, PacketEvent) and p.src == p.dst == me)
    header = _header(origin, me, actors(events), own, sysctls or {}, _mtu(events, me))
    return "\n".join([*header, *_timed(lines)]) + "\n"


def _mtu(events: list[Event], me: str) -> int | None:
    """The device MTU a replay needs for the side's kernel to advertise the MSS it did here.

    A SYN's MSS is the route's advmss, the device's MTU less the IPv4 and TCP headers (the
    kernel's ipv4_default_advmss(), at most 65495): loopback's 65536 gives 65495, a replay's TUN
    device at packetdrill's default 1500 gives 1460, and the SYN-ACK's window is rounded to that
    MSS. So the script says the MTU (packetdrill's ``--mtu``) under which its SYNs were made."""
    for p in events:
        if isinstance(p, PacketEvent) and p.src == me != p.dst and "S" in p.flags:
            mss = re.search(r"(?:^|,)\s*mss (\d+)", p.options)
            if mss:
                return int(mss.group(1)) + _IPV4_TCP_HEADERS
    return None


def _header(origin: Origin, me: str, who: list[str], own: int, sysctls: Mapping[str, str], mtu: int | None) -> list[str]:
    remote = ", ".join(a for a in who if a != me) or "no other actor"
    where = f" ({origin.where})" if origin.where else ""
    out = [
        f"// Written by tuiexplore {__version__} from a lab session: {origin.scenario}: {origin.title}",
        f"// Kernel {origin.kernel} (uname -r {origin.release}){where}, {origin.wire} wire.",
        f"// The socket calls are {me}'s; {remote} is the remote end, injected (<) as {me}'s kernel received it.",
        "// Sequence numbers are relative to each side's ISN, TS values count from 100 at each",
        "// sender's first, times are to the ms; `> ... <...>` is a segment whose options are not checked.",
    ]
    if own:
        out.append(f"// Not written: {own} segments between {me}'s own sockets (a connection to itself has no remote end).")
    out = [comment_text(x) for x in out]
    settable = [f"{n}={shlex.quote(v)}" for n, v in sysctls.items() if _settable(n, v)]
    out += [
        f"// Not written: the lab setting {comment_text(n)} (not one the reader takes)"
        for n, v in sysctls.items()
        if not _settable(n, v)
    ]
    out.append(f"--tolerance_usecs={TOLERANCE_USECS}")
    if mtu is not None:
        out.append(f"--mtu={mtu}")
    if settable:
        out.append(f"`sysctl -q {' '.join(settable)}`")
    return out


def _settable(name: str, value: str) -> bool:
    """A lab setting the reader will translate back to itself (its rules, packetdrill/shell.py)."""
    plan = translate(f"sysctl -q {name}={shlex.quote(value)}", 1)
    return not plan.refused and [(x.name, x.value) for x in plan.settings] == [(name, value)]


def _segments(events: list[Event], me: str, wire: Delivery) -> list[_Line]:
    numbers = Numbers()
    out: list[_Line] = []
    for order, p in enumerate(events):
        if not isinstance(p, PacketEvent) or p.src == p.dst or me not in (p.src, p.dst):
            continue  # between other actors, or within one (a connection to itself)
        inbound = p.dst == me
        if not inbound and p.index in wire.injected:
            continue  # the scripted peer's, made as if it were ours
        text, left_out = segment(p, inbound, numbers)
        note = [f"options not written: {', '.join(left_out)}"] if left_out else []
        out += [_Line(t, at, text, comments=note) for t, at in (wire.times(p, order) if inbound else [(p.t, order)])]
    return out


def _syscalls(events: list[Event], me: str, arrivals: list[float]) -> list[_Line]:
    fds = Fds()
    # A step's first packet: its call started no later, though the stream may list it first.
    steps: dict[int, tuple[float, float]] = {}
    for i, e in enumerate(events):
        if isinstance(e, PacketEvent) and e.step is not None:
            steps.setdefault(e.step, (e.t, i - 0.5))
    verdicts = {(v.step, v.actor): v for v in events if isinstance(v, VerdictEvent)}
    late = {int(m.group(1)): (n.t, m) for n in events if isinstance(n, NoteEvent) and (m := _LATE.match(n.text))}
    out: list[_Line] = []
    for index, e in enumerate(events):
        if not isinstance(e, StepEvent):
            continue
        t, order = min((e.t, float(index)), steps.get(e.step, (e.t, float(index))))
        said = f"step {e.step}: {e.actor} {call_text(e.call, e.args)}"
        if e.actor != me or e.call == "sleep" or e.call in WIRE_CALLS:  # the wire's calls act on no socket
            out.append(_Line(t, order, "", comments=[said], timer=e.call == "wait"))
            continue
        v = verdicts.get((e.step, me))
        if v is not None:
            said += f": predicted {v.predicted}, the kernel sent {v.observed} (branch {v.branch})"
        texts, end = _returned(e, fds, late.get(e.step), arrivals)
        fds.note(e)
        if not texts:
            out.append(_Line(t, order, "", comments=[said, "(no packetdrill form: not written)"]))
            continue
        out.append(_Line(t, order, texts[0], end if len(texts) == 1 else None, [said]))
        out += [_Line(t, order, x, end if i == len(texts) - 1 else None) for i, x in enumerate(texts[1:], 1)]
    return out


def _returned(
    e: StepEvent, fds: Fds, late: tuple[float, re.Match[str]] | None, inbound: list[float]
) -> tuple[list[str], float | None]:
    """The call's lines and, for one that waited on the remote end, when it returned."""
    if e.result.get("blocked"):
        if late is None:
            return [], None  # it never came back in the session
        t1, m = late
        return calls(replace(e, ret=int(m.group(2)), errno=m.group(3), result={}), fds), t1
    if e.ret is None:
        return [], None  # failed in the actor, or refused
    texts = calls(e, fds)
    if "blocked_s" in e.result:
        return texts, e.t + float(e.result["blocked_s"])
    waits = e.call == "connect" and not e.args.get("nonblocking") and e.args.get("family") != "AF_UNSPEC"
    waits |= e.call == "close" and str(e.args.get("fd")) in fds.linger
    answered = next((t for t in inbound if t >= e.t), None)
    return texts, answered if waits else None


def _timed(lines: list[_Line]) -> list[str]:
    out: list[str] = []
    start = next((x.t for x in lines if x.text), 0.0)
    previous: int | None = None
    silent_timer, shift = False, 0
    for x in lines:
        out += [f"// {comment_text(c)}" for c in x.comments]
        silent_timer |= x.timer
        if not x.text:
            continue
        at = _ms(x.t - start) + shift
        if silent_timer and previous is not None and not x.text.startswith(">"):
            # The lab waited for a timer that sent nothing (a FIN_WAIT2 timeout), then went on: in
            # a replay only the time says "after it fired", and a timer due D later fires up to
            # D/8 late (the timer wheel's granularity, as packetdrill's tolerance_percent).
            late = -(-(at - previous) // 8)
            at, shift = at + late, shift + late
            waited = at - late - previous
            out.append(f"// {LATER} {late} ms: the lab waited {waited} ms for a kernel timer that sent nothing")
        silent_timer &= not x.text  # a line after the timer: it has fired (or is expected)
        when = _seconds(at) if previous is None else "+" + _seconds(at - previous)
        if x.end is not None:
            when += "..." + _seconds(max(_ms(x.end - start) + shift, at) - (previous if previous is not None else 0))
        out.append(f"{when} {x.text}")
        previous = at
    return out


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _seconds(ms: int) -> str:
    return "0" if ms == 0 else f"{ms / 1000:.3f}".rstrip("0").rstrip(".")
