"""A process exits: its sockets are closed one after another, and each close can change the next.

``do_exit()`` -> ``exit_files()`` -> ``close_files()`` walks the fd table from fd 0 upwards, but
``fput()`` does not release a file there: ``__fput_deferred()`` queues ``____fput()`` with
``task_work_add()``, which pushes onto the head of the task's list, and ``exit_task_work()`` ->
``task_work_run()`` runs that list from the head (FIFO order was dropped in 4.3, "task_work:
remove fifo ordering guarantee"). So the sockets reach ``__tcp_close()`` in *descending* fd
order, with ``exiting`` set (``inet_release()`` passes timeout 0: no SO_LINGER wait).

On loopback what one close sends is delivered before the next close runs: ``loopback_xmit()``
queues the segment on this CPU's backlog and the softirq runs when the sender's
``rcu_read_unlock_bh()`` re-enables bottom halves, still inside the first ``__tcp_close()``. So
when the process holds both ends of a connection (or a listener and a client of its own accept
queue), the later socket is closed in the state the earlier close left it in. Each prediction
starts from the state read before the exit and applies what the earlier closes delivered to it:

- an RST (``tcp_reset()`` -> ``tcp_done()``): the socket is in CLOSE, and ``__tcp_close()`` takes
  its "already reset" exit before the unread-data test: nothing is sent;
- a FIN (``tcp_fin()``): ESTABLISHED -> CLOSE_WAIT, FIN_WAIT1 -> CLOSING, FIN_WAIT2 -> TIME_WAIT
  (``tcp_time_wait()`` hands over to a mini-socket and ``tcp_done()`` leaves the full one in CLOSE).
"""

from __future__ import annotations

import dataclasses

from tuiexplore.lab.predict import Prediction, SocketView, predict_close

# tcp_fin(): the state a socket moves to when its peer's FIN arrives.
AFTER_FIN = {"ESTABLISHED": "CLOSE_WAIT", "SYN_RECV": "CLOSE_WAIT", "FIN_WAIT1": "CLOSING", "FIN_WAIT2": "CLOSE"}


def delivered(s: SocketView, p: Prediction) -> dict[tuple[int, int], str]:
    """What this close puts on the wire, by the receiving socket's (lport, rport): "RST" or "FIN"."""
    if p.outcome == "none":
        return {}
    if p.branch == "listen_stop":
        # Every child that tcp_disconnect() reset speaks from the listener's port to its peer.
        kids = s.children or ()
        return {(c.rport, s.lport): "RST" for c in kids if c.state != "CLOSE"}
    return {(s.rport, s.lport): p.outcome} if s.rport else {}


def predict_exit(
    views: list[tuple[str, SocketView]], version: tuple[int, int, int], unread_rule: str | None = None
) -> list[Prediction]:
    """``views`` in ascending fd order, (fd name, state before the exit); the predictions come
    back in that order, made in the order the kernel releases the fds (descending)."""
    states = {(v.lport, v.rport): v.state for _, v in views if v.rport}
    # The un-accepted children too: a close of their peer end reaches them first.
    states.update({(v.lport, c.rport): c.state for _, v in views for c in v.children or () if c.rport})
    why: dict[tuple[int, int], str] = {}
    out = []
    for name, v in reversed(views):
        key = (v.lport, v.rport)
        if v.rport and states.get(key, v.state) != v.state:
            v = dataclasses.replace(v, state=states[key])
        if v.children:
            kids = tuple(dataclasses.replace(c, state=states.get((v.lport, c.rport), c.state)) for c in v.children)
            v = dataclasses.replace(v, children=kids)
        p = predict_close(v, version, exiting=True, unread_rule=unread_rule)
        if key in why:
            p = dataclasses.replace(p, text=f"{why[key]}; {p.text}")
        out.append(p)
        for peer, what in delivered(v, p).items():
            if peer in states:
                old = states[peer]
                states[peer] = "CLOSE" if what == "RST" else AFTER_FIN.get(old, old)
                why[peer] = f"the exit released {name} first, and its {what} moved this socket {old} -> {states[peer]}"
    return out[::-1]
