"""The FIN/RST prediction at a parked closing call, from the socket's real state, and its verdict.

The predictor is the lab's (tuiexplore/lab/predict.py); this module only feeds it: the state
comes from a pidfd_getfd duplicate (closed again before the call runs), and a socket that another
fd still refers to (a dup, a forked child) is not closed by close() at all: the kernel only drops
a reference, so __tcp_close() does not run and nothing is sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tuiexplore.lab import procnet, sockdiag
from tuiexplore.lab.advice import advise
from tuiexplore.lab.calls import TCP_STATES
from tuiexplore.lab.capture import Frame
from tuiexplore.lab.predict import (
    STILL_REFERENCED,
    Prediction,
    kernel_version,
    predict_close,
    predict_disconnect,
    predict_shutdown,
)
from tuiexplore.lab.verdict import judge, outcome_of, sent_by
from tuiexplore.timeline import UNOBSERVED, VerdictEvent
from tuiexplore.trace import sockets
from tuiexplore.trace.events import Parked

EXITS = ("exit_group", "exit", "killed")  # "killed": dying of a signal, at PTRACE_EVENT_EXIT
VERSION = kernel_version()


@dataclass(frozen=True)
class Target:
    """One socket a closing call affects, with the prediction taken just before it runs."""

    fd: int
    sock: sockets.SockInfo
    pred: Prediction
    holders: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "fd": self.fd,
            "socket": self.sock.label(),
            "outcome": self.pred.outcome,
            "branch": self.pred.branch,
            "path": list(self.pred.path),
            "reason": self.pred.reason,
            "text": self.pred.text,
            "holders": [{"pid": pid, "fd": fd, "process": _comm(pid)} for pid, fd in self.holders],
        }


def is_closing(p: Parked) -> bool:
    if p.call == "connect":
        return (p.args.get("addr") or {}).get("family") == "AF_UNSPEC"
    return p.call in ("close", "shutdown", *EXITS)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _peer_state(pid: int, s: sockets.SockInfo) -> str | None:
    """The state of the socket at the other end of ``s``, when it is in the traced program's
    network namespace (a sock_diag lookup there when it is ours; /proc/PID/net otherwise)."""
    try:
        ours = os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return None
    if ours:
        found = sockdiag.lookup([(s.raddr, s.rport, s.laddr, s.lport)]) if s.rport else []
        return TCP_STATES.get(found[0].state) if found else None
    out: dict[tuple[int, int], str] = {}
    for name in ("tcp", "tcp6"):
        try:
            out.update(procnet.states(f"/proc/{pid}/net/{name}"))
        except OSError:
            pass
    return out.get((s.rport, s.lport))


def predict(p: Parked, holders_among: Iterable[int] | None = None) -> list[Target]:
    """Every TCP socket the call may close, each with what __tcp_close() & co. will do.
    ``holders_among``: the processes that may share its sockets (None: every process)."""
    if p.call in EXITS:
        fds = sockets.socket_fds(p.pid)
    else:
        fds = [p.args.get("fd", -1)]
    own = {(p.pid, fd) for fd in fds}
    seen: set[int] = set()
    out = []
    for fd in fds:
        s = sockets.resolve(p.pid, fd)
        if s is None or s.kind != "tcp" or s.inode in seen:
            continue
        seen.add(s.inode)
        view = s.view(
            peer_acks_fin=_peer_state(p.pid, s) in ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2"),
        )
        others = tuple(h for h in sockets.holders(s.inode, pids=holders_among) if h not in own)
        if p.call == "shutdown":  # acts on the socket itself, whoever else holds it
            pred = predict_shutdown(view, str(p.args.get("how")), VERSION)
        elif p.call == "connect":
            pred = predict_disconnect(view, VERSION)
        elif others:
            who = ", ".join(f"pid {pid} ({_comm(pid)}) fd {hfd}" for pid, hfd in others)
            pred = Prediction("none", STILL_REFERENCED, None, (), f"only a reference is dropped: {who} still holds the socket")
        else:
            pred = predict_close(view, VERSION, exiting=p.call in EXITS)
        out.append(Target(fd, s, pred, others))
    return out


def verdict(
    t: float,
    step: int,
    actor: str,
    call: str,
    target: Target,
    frames: list[Frame] | None,
    deltas: dict[str, int],
    known: set,
) -> VerdictEvent:
    """``frames`` None: nothing captured (no packet socket, --no-capture), so nothing observed."""
    sock = target.sock.row(target.fd)
    if frames is None:
        pred, fd = target.pred, str(target.fd)
        text = f"{call}() -> not observed: no packets were captured, so what the kernel sent is unknown · predicted: {pred.text}"
        return VerdictEvent(
            t, step, actor, fd, call, pred.outcome, UNOBSERVED, pred.branch, None, dict(deltas), None, text, pred.path
        )
    if target.pred.branch != STILL_REFERENCED:
        return judge(
            t=t,
            step=step,
            actor=actor,
            call=call,
            sock=sock,
            pred=target.pred,
            frames=frames,
            resets=[],
            deltas=deltas,
            others=known,
        )
    observed = outcome_of(sent_by(sock, frames, known))
    agree = observed == "none"
    text = f"{call}() -> {observed}: {target.pred.text}"
    if not agree:
        text += " - PREDICTED none (the socket is still referenced) - the kernel did otherwise"
    fd = str(target.fd)
    path = (STILL_REFERENCED,)
    advice = advise(STILL_REFERENCED, "none", sock, call, held=agree)
    return VerdictEvent(
        t, step, actor, fd, call, "none", observed, STILL_REFERENCED, None, dict(deltas), agree, text, path, advice
    )
