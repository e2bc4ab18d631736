"""A lab actor as the peer of a traced program: ``tuiexplore step --lab --with-server seed``.

The actor is the lab's own (``lab/actors.py`` ScriptedActor, a process performing one syscall per
request); this module is only its policy, the seed's epoll server loop (examples/seed/server.cpp:
accept; on EPOLLOUT write "1" and sleep 1 s; on EPOLLHUP/ERR/RDHUP close and, as with --once,
end). It runs free on its own thread: the peer is not stepped, the traced program is. Each call
it made is handed to ``on_call`` as a ``PeerCall``, with real fd numbers so that it reads like a
traced call.
"""

from __future__ import annotations

import itertools
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuiexplore.domain import SocketRow
from tuiexplore.lab.actors import ActorGone, FromActor, InboxItem, ScriptedActor
from tuiexplore.lab.calls import epoll_mask
from tuiexplore.lab.protocol import ActorRequest, Blocked, Failed, Returned
from tuiexplore.trace.launch import Untraceable
from tuiexplore.trace.ptrace import pidfd_getfd

ADDRESS, PORT = "127.0.0.1", 9999  # the lab namespace is private: a fixed port never collides
ENV = "TUIEXPLORE_SERVER"  # host:port, in the traced programs' environment
CONN_EVENTS = ["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLHUP"]
HANGUP = epoll_mask(["EPOLLHUP", "EPOLLERR", "EPOLLRDHUP"])
OUT = epoll_mask(["EPOLLOUT"])
WRITE_SLEEP_S = 1.0  # the seed server's sleep(1) after each write
START_TIMEOUT_S = 20.0


class PeerError(Exception):
    """The lab server could not be set up; the message is one line for the user."""


@dataclass(frozen=True)
class PeerCall:
    """One syscall the lab server made, with its result and its sockets afterwards."""

    t: float
    actor: str
    pid: int
    call: str
    args: dict[str, Any]
    ret: int
    errno: str | None
    result: dict[str, Any]
    sockets: list[SocketRow] = field(default_factory=list)


@dataclass(frozen=True)
class PeerEnded:
    actor: str
    why: str


class SeedServer:
    """The seed's epoll server as a lab actor named ``server``, listening on ADDRESS:PORT."""

    name = "server"

    def __init__(self, on_event: Callable[[PeerCall | PeerEnded], None]) -> None:
        self.on_event = on_event
        self.replies: queue.SimpleQueue[InboxItem] = queue.SimpleQueue()
        self.actor: ScriptedActor | None = None
        self.ids = itertools.count(1)
        self.fds: dict[str, int] = {}  # the actor's fd names -> numbers
        self.inflight = False  # a request is in the actor and not (yet) blocked in the kernel
        self.waiting_on: str | None = None  # the fd name a blocked epoll_wait waits on
        self.done = threading.Event()
        self._ep_dup: int | None = None

    @property
    def address(self) -> str:
        return f"{ADDRESS}:{PORT}"

    # -- the caller's thread ------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the actor and have it listen before any traced program starts; raises PeerError."""
        self.actor = ScriptedActor(self.name, self.replies.put)  # from the main thread: PDEATHSIG
        self.do("socket", {"as": "listener"})
        self.do("setsockopt", {"fd": "listener", "option": "SO_REUSEADDR", "value": 1})
        self.do("bind", {"fd": "listener", "port": PORT})
        self.do("listen", {"fd": "listener", "backlog": 16})
        self.do("epoll_create", {"as": "ep"})
        self.do("epoll_ctl", {"ep": "ep", "op": "ADD", "fd": "listener", "events": ["EPOLLIN"]})
        threading.Thread(target=self._serve, name="lab-server", daemon=True).start()

    def listen(self) -> str:
        """start() for the Stepper: the note that says where it listens; raises Untraceable."""
        try:
            self.start()
        except PeerError as exc:
            self.stop()
            raise Untraceable(f"--with-server: {exc}") from None
        return f"{self.name}: a lab actor (the seed's epoll server) listens on {self.address}; ${ENV}={self.address}"

    def settled(self) -> bool:
        """Nothing under way: no request running, or the epoll_wait it is blocked in has nothing
        to report yet (checked on a duplicate of the actor's epoll fd, so a wake-up the actor has
        not answered yet already counts as activity)."""
        if self.done.is_set():
            return True
        if self.inflight:
            return False
        if self.waiting_on is None or self._ep_dup is None:
            return True
        return not select.select([self._ep_dup], [], [], 0)[0]

    def stop(self) -> None:
        if self.actor is not None:
            self.actor.kill()
        self.done.set()
        if self._ep_dup is not None:
            os.close(self._ep_dup)
            self._ep_dup = None

    # -- the server's thread -------------------------------------------------------------------
    def _serve(self) -> None:
        try:
            self._loop()
            self.on_event(PeerEnded(self.name, "closed its connection and ended (the seed server's --once)"))
        except PeerError as exc:
            self.on_event(PeerEnded(self.name, str(exc)))
        finally:
            if self.actor is not None:
                self.actor.kill()
            self.done.set()

    def _loop(self) -> None:
        while True:
            ready = self.do("epoll_wait", {"ep": "ep", "maxevents": 10, "timeout_ms": -1}, wait="ep")["ready"]
            for ev in ready:
                mask = int(ev["mask"], 16)
                if ev["fd"] == "listener":
                    self.do("accept", {"fd": "listener", "as": "conn"})
                    self.do("epoll_ctl", {"ep": "ep", "op": "ADD", "fd": "conn", "events": CONN_EVENTS})
                elif mask & HANGUP:
                    self.do("close", {"fd": ev["fd"]})
                    return
                elif mask & OUT:
                    self.do("write", {"fd": ev["fd"], "data": "1"})
                    time.sleep(WRITE_SLEEP_S)

    def do(self, call: str, args: dict[str, Any], wait: str | None = None) -> dict[str, Any]:
        """One request, answered; its PeerCall reported. A failure ends the server (PeerError)."""
        assert self.actor is not None
        req = ActorRequest(next(self.ids), call, args, block_s=0.05)
        shown = self._shown_args(call, args)  # before the call: close forgets the name
        self.inflight = True
        self.actor.send(req)
        while True:
            try:
                item = self.replies.get(timeout=None if wait else START_TIMEOUT_S)
            except queue.Empty:
                raise PeerError(f"the lab server did not answer its {call}()") from None
            if isinstance(item, ActorGone):
                raise PeerError("the lab server's process is gone")
            if not isinstance(item, FromActor) or getattr(item.reply, "id", None) != req.id:
                continue
            reply = item.reply
            if isinstance(reply, Blocked):
                self.waiting_on, self.inflight = wait, False
                self._watch_epoll()
                continue
            self.waiting_on, self.inflight = None, False
            if isinstance(reply, Failed):
                raise PeerError(f"the lab server's {call}() failed: {reply.message}")
            if isinstance(reply, Returned):
                return self._returned(call, args, shown, reply)

    def _returned(self, call: str, args: dict[str, Any], shown: dict[str, Any], r: Returned) -> dict[str, Any]:
        result = dict(r.result)
        if r.errno is None and "as" in args:
            self.fds[args["as"]] = r.ret
            result["fd"] = r.ret
        if call == "close":
            self.fds.pop(args["fd"], None)
        if "ready" in result:
            shown_ready = [{**e, "fd": self.fds.get(e["fd"], e["fd"])} for e in result["ready"]]
            result = {"ready": shown_ready}
        if "peer_port" in result:
            result = {"fd": r.ret, "peer": {"family": "AF_INET", "ip": ADDRESS, "port": result.pop("peer_port")}}
        assert self.actor is not None
        pid = self.actor.pid or 0
        self.on_event(PeerCall(r.t1, self.name, pid, call, shown, r.ret, r.errno, result, list(r.sockets)))
        if r.errno is not None:
            raise PeerError(f"the lab server's {call}() failed: {r.errno} {r.result.get('message', '')}".strip())
        return r.result

    def _shown_args(self, call: str, args: dict[str, Any]) -> dict[str, Any]:
        """The request's arguments in the traced calls' shape: fd numbers, names of options."""
        out: dict[str, Any] = {}
        for key, value in args.items():
            if key == "as":
                continue
            if key in ("fd", "ep"):
                out[key] = self.fds.get(value, value)
            elif key == "events":
                out["events"] = list(value)
                out["mask"] = f"{epoll_mask(value):x}"
            elif key == "op":
                out["op"] = f"EPOLL_CTL_{value}"
            elif key == "port":
                out["addr"] = {"family": "AF_INET", "ip": ADDRESS, "port": value}
            else:
                out[key] = value
        if call == "socket":
            out = {"domain": "AF_INET", "type": "SOCK_STREAM", "protocol": 0}
        return out

    def _watch_epoll(self) -> None:
        if self._ep_dup is None and self.actor is not None and self.actor.pid and "ep" in self.fds:
            try:
                self._ep_dup = pidfd_getfd(self.actor.pid, self.fds["ep"])
            except OSError:
                self._ep_dup = None  # then settled() trusts the actor's Blocked alone


SERVERS: dict[str, type[SeedServer]] = {"seed": SeedServer}  # --with-server NAME
