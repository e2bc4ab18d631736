"""The step screen's help: its panels and keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from tuiexplore.tui.screens import ReadOnlyDialog

HELP = """\
# tuiexplore step: your own programs, one socket syscall at a time

Each program runs under ptrace and **stops at the entry** of every network-relevant syscall
(socket, bind, listen, connect, accept, read/recv/write/send on sockets, shutdown, setsockopt,
close of a socket, dup, epoll, poll/select, fork/clone, exit). Other syscalls run without a stop.

## Panels
- **One per program** (`▶` marks the selected one): each parked call decoded (the fd with its
  socket's 4-tuple and state, sockaddrs, flags and epoll masks by name, buffers with `\\xNN`),
  then `↳` its return value once it ran; epoll results with the hex mask (`events: 201d`).
- **Packets**: what the programs' own connections put on the wire; **Enter**: the full dissection.
- **Kernel**: the `tcp_close` source; `?` the branch predicted for a parked closing call, `▶`
  the one the kernel took.
- **Output**: the programs' stdout (`name>`) and stderr (`name!>`), and the session's notes.
- **Sockets** (the strip): every program's sockets after each stop, return and packet: fd,
  `local → remote`, TCP state, Recv-Q (unread bytes, red when not 0), unsent; latest change first.
- A **lab server** (`--lab --with-server seed`, on `127.0.0.1:9999`) has a panel too: it is not
  stepped, its calls appear as it makes them.
- **Verdict** (bottom): at a parked closing call, the FIN/RST prediction from the socket's real
  state and who else still holds the socket; after it ran, what the kernel did.

## Keys
{keys}
"""


class StepHelp(ReadOnlyDialog):
    """``keys``: the key table's rows, as the keymap has them (keyhelp)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Markdown(HELP.format(keys="\n".join(["| key | action |", "| --- | --- |", *self.keys])))
