"""What a prediction is made from: the sockets a closing call affects, each as a ``SocketView``
built from the kernel's own reports. The one place both ``tuiexplore run`` and the explorer get
their prediction inputs (both go through the agent, with the same ``unread_rule``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tuiexplore.domain import PredictionView, SocketRow
from tuiexplore.lab import kernel_inputs
from tuiexplore.lab.attribution import Attribution, Key
from tuiexplore.lab.capture import Frame
from tuiexplore.lab.exit_order import predict_exit
from tuiexplore.lab.predict import Prediction, SocketView, predict_close, predict_disconnect, predict_shutdown

PEER_ACKS_FIN = ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2")


def targets(call: str, args: dict[str, Any], held: dict[str, SocketRow]) -> list[SocketRow]:
    """The sockets a closing call affects: all of them, in fd order, when the actor exits."""
    if call == "exit":
        return sorted(held.values(), key=lambda s: s.fd)
    s = held.get(args["fd"]) if "fd" in args else None
    return [s] if s else []


def socket_view(s: SocketRow, states: dict[Key, str]) -> SocketView:
    return SocketView(
        state=s.state,
        inq=s.inq,
        unsent=s.unsent,
        linger=(s.linger[0], s.linger[1]),  # a list when it came through the wire
        linger2=s.linger2,
        accept_queue=s.accept_queue,
        peer_acks_fin=states.get((s.rport, s.lport)) in PEER_ACKS_FIN,
        cwnd_room=s.cwnd_room,
        mss=s.snd_mss,
    )


def predict(
    call: str,
    args: dict[str, Any],
    held: dict[str, SocketRow],
    attribution: Attribution,
    states: dict[Key, str],
    version: tuple[int, int, int],
    unread_rule: str | None,
    *,
    everyone: Iterable[SocketRow] = (),
    frames: Iterable[Frame] = (),
) -> list[tuple[SocketRow, Prediction]]:
    """``states`` is the namespace's socket table, ``everyone`` the sockets every live actor
    holds, ``frames`` the capture so far (see ``kernel_inputs.complete``)."""
    chosen = targets(call, args, held)
    taken = kernel_inputs.open_keys(everyone)
    frames = list(frames)
    views = [kernel_inputs.complete(socket_view(s, states), s, states, taken, frames) for s in chosen]
    if call == "exit":
        named = [(s.name, v) for s, v in zip(chosen, views, strict=True)]
        return list(zip(chosen, predict_exit(named, version, unread_rule), strict=True))
    out = []
    for s, view in zip(chosen, views, strict=True):
        if call == "connect":
            p = predict_disconnect(view, version)
        elif call == "shutdown":
            p = predict_shutdown(view, args["how"], version)
        else:
            p = predict_close(view, version, unread_rule=unread_rule)
        out.append((s, p))
    return out


def view(fd: str, p: Prediction) -> PredictionView:
    return PredictionView(fd, p.outcome, p.branch, p.reason, p.text, tuple(p.path))
