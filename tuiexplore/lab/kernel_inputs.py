"""What the predictor needs beyond one fd's own getsockopt(): read from the lab's namespace.

- The state of each child in a listener's accept queue, from the namespace's socket table
  (sock_diag lookups inside the lab): ``inet_csk_listen_stop()`` calls ``tcp_disconnect()`` on each,
  and what that sends depends on the child's own state.
- The peer's usable window, from TCP_INFO's ``tcpi_snd_wnd`` (5.4+) or else the last window the
  peer advertised on the wire, scaled by ``tcpi_snd_wscale``: ``tcp_write_xmit()`` holds a FIN
  that the window has no room for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from tuiexplore.domain import SocketRow
from tuiexplore.lab.capture import Frame
from tuiexplore.lab.predict import Child, SocketView

# A child still in the accept queue has only ever met its peer's segments: ESTABLISHED, then
# CLOSE_WAIT on a FIN. (SYN_RECV lines are request sockets, which live outside the accept queue:
# get_openreq4() prints them as SYN_RECV; the lab has no TCP Fast Open, whose children would be
# full sockets in SYN_RECV.)
_QUEUED = ("ESTABLISHED", "CLOSE_WAIT")


def accept_children(listener: SocketRow, table: dict[tuple[int, int], str], open_keys: set[tuple[int, int]]) -> tuple[Child, ...]:
    """The listener's ``accept_queue`` children: those the table still has, by remote port, plus
    one CLOSE child for each the table no longer has (a reset child is unhashed by tcp_done() but
    stays queued, counted by sk_ack_backlog, until accept() or the listener's close)."""
    lport = listener.lport
    alive = [
        Child(r, st) for (lp, r), st in sorted(table.items()) if lp == lport and r and st in _QUEUED and (lp, r) not in open_keys
    ]
    dead = max(0, listener.accept_queue - len(alive))
    return (*alive, *(Child(0, "CLOSE") for _ in range(dead)))


def usable_window(sock: SocketRow, frames: Iterable[Frame]) -> int | None:
    """snd_una + snd_wnd - snd_nxt: the window left for the next sequence number. The bytes in
    flight are SIOCOUTQ (write_seq - snd_una) minus SIOCOUTQNSD (write_seq - snd_nxt)."""
    wnd = sock.snd_wnd
    if wnd is None:
        wnd = _captured_window(sock, frames)
    if wnd is None:
        return None
    return wnd - (sock.outq - sock.unsent)


def _captured_window(sock: SocketRow, frames: Iterable[Frame]) -> int | None:
    last = None
    for f in frames:
        if f.sport == sock.rport and f.dport == sock.lport:
            last = f
    if last is None:
        return None
    # A SYN's window is never scaled (RFC 7323 §2.2).
    return last.win if last.flag_bits & 0x02 else last.win << sock.snd_wscale


def complete(
    view: SocketView,
    sock: SocketRow,
    table: dict[tuple[int, int], str],
    open_keys: set[tuple[int, int]],
    frames: Iterable[Frame],
) -> SocketView:
    """The view with the namespace-wide inputs filled in."""
    extra: dict[str, Any] = {"lport": sock.lport, "rport": sock.rport}
    if sock.state == "LISTEN":
        extra["children"] = accept_children(sock, table, open_keys)
    elif sock.rport:
        extra["send_window"] = usable_window(sock, frames)
    return dataclasses.replace(view, **extra)


def open_keys(sockets: Iterable[SocketRow]) -> set[tuple[int, int]]:
    """The connections some live actor holds an fd for (an accepted child is no longer queued)."""
    return {(s.lport, s.rport) for s in sockets if s.rport}
