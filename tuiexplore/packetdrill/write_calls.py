"""A lab step of the script's actor as packetdrill syscall lines (its ``syscall_spec``).

File descriptors are written as the numbers the kernel gave (``socket() = 3``: packetdrill maps a
script's fd numbers to its own), addresses as ``...`` (the runner's, not the lab's), and results
as the call returned them, errno and strerror text included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tuiexplore.timeline import StepEvent

_NEW_FD = ("socket", "accept", "epoll_create")


def comment_text(text: str) -> str:
    """Text from a file or the lab made safe inside a ``//`` comment: one line, printable."""
    return "".join(c if c.isprintable() else "?" for c in text)


@dataclass
class Fds:
    """One actor's file descriptors: the lab's names for them -> the kernel's numbers."""

    numbers: dict[str, int] = field(default_factory=dict)
    linger: set[str] = field(default_factory=set)  # names with SO_LINGER on and a timeout: close() waits

    def of(self, name: Any) -> str:
        return str(self.numbers.get(str(name), "...")) if name is not None else "..."

    def note(self, e: StepEvent) -> None:
        """What the call did to the table (after it is written)."""
        if e.call in _NEW_FD and isinstance(e.ret, int) and e.ret >= 0 and "fd" in e.result:
            self.numbers[str(e.result["fd"])] = e.ret
        elif e.call == "setsockopt" and e.args.get("option") == "SO_LINGER" and e.ret == 0:
            value = e.args.get("value")
            name = str(e.args.get("fd"))
            on = isinstance(value, list) and len(value) == 2 and value[0] != 0 and value[1] > 0
            (self.linger.add if on else self.linger.discard)(name)
        elif e.call == "close" and e.ret == 0:
            self.numbers.pop(str(e.args.get("fd")), None)
        elif e.call == "exit":
            self.numbers.clear()


def result(ret: int | None, errno: str | None, message: str) -> str:
    """``= -1 ECONNRESET (Connection reset by peer)``: the strerror note in words only, since
    the reader takes the note's tokens up to its ``)``."""
    if errno and re.fullmatch(r"E[A-Z0-9]+", errno):
        why = " ".join(re.findall(r"[A-Za-z0-9]+", message))
        return f"-1 {errno}" + (f" ({why})" if why else "")
    return str(ret)


def calls(e: StepEvent, fds: Fds) -> list[str]:
    """The syscall texts (after the time) of one step that returned; [] when packetdrill has no
    form for it (the writer says so in a comment)."""
    a, fd = e.args, fds.of(e.args.get("fd"))
    ret = result(e.ret, e.errno, str(e.result.get("message", "")))
    c = e.call
    if c == "socket":
        return [f"socket(..., SOCK_STREAM, IPPROTO_TCP) = {ret}"]
    if c == "setsockopt":
        option = str(a.get("option"))
        level = "SOL_SOCKET" if option.startswith("SO_") else "SOL_TCP"
        value = a.get("value")
        if option == "SO_LINGER" and isinstance(value, list) and len(value) == 2:
            return [f"setsockopt({fd}, {level}, {option}, {{onoff={value[0]}, linger={value[1]}}}, 8) = {ret}"]
        return [f"setsockopt({fd}, {level}, {option}, [{value}], 4) = {ret}"]
    if c == "bind":
        return [f"bind({fd}, ..., ...) = {ret}"]
    if c == "listen":
        return [f"listen({fd}, {a.get('backlog', 16)}) = {ret}"]
    if c == "connect":
        if a.get("family") == "AF_UNSPEC":
            return [f"connect({fd}, AF_UNSPEC, ...) = {ret}"]
        lines = [f"fcntl({fd}, F_SETFL, O_RDWR|O_NONBLOCK) = 0"] if a.get("nonblocking") else []
        return [*lines, f"connect({fd}, ..., ...) = {ret}"]
    if c == "accept":
        return [f"accept({fd}, ..., ...) = {ret}"]
    if c == "read":
        return [f"read({fd}, ..., {a.get('size', 4096)}) = {ret}"]
    if c == "write":
        size = len(str(a["data"]).encode()) if a.get("data") is not None else a.get("size")
        return [f"write({fd}, ..., {size}) = {ret}"]
    if c == "shutdown":
        return [f"shutdown({fd}, {a.get('how', 'SHUT_WR')}) = {ret}"]
    if c == "close":
        return [f"close({fd}) = {ret}"]
    if c == "epoll_create":
        return [f"epoll_create(1) = {ret}"]
    if c == "epoll_ctl":
        events = "|".join(a.get("events") or ["EPOLLIN"])
        return [f"epoll_ctl({fds.of(a.get('ep'))}, EPOLL_CTL_{a.get('op', 'ADD')}, {fd}, {{events={events}, fd={fd}}}) = {ret}"]
    if c == "epoll_wait":
        ready = e.result.get("ready") or []
        got = "..."
        if len(ready) == 1 and isinstance(ready[0], dict):
            got = f"{{events={'|'.join(ready[0].get('events', []))}, fd={fds.of(ready[0].get('fd'))}}}"
        return [f"epoll_wait({fds.of(a.get('ep'))}, {got}, {a.get('maxevents', 10)}, {a.get('timeout_ms', 1000)}) = {ret}"]
    if c == "exit":  # the kernel releases what the process held highest fd first (lab/exit_order.py)
        return [f"close({n}) = 0" for n in sorted(fds.numbers.values(), reverse=True)]
    return []
