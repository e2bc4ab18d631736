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
| key | action |
| --- | --- |
| `n` / `space` | run the selected program's parked call |
| `N` | run the selected program on until its next closing call parks |
| `g` | run every program on until the next closing call parks (any program's) |
| `tab` / `shift+tab` | select the next / previous program |
| `d` | detach: the programs run on untraced, correctly |
| `1` `2` `3` `4` | show programs / packets / kernel / output (narrow terminals) |
| `?` | this help · `q` quit (detaches first) |
"""


class StepHelp(ReadOnlyDialog):
    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Markdown(HELP)
