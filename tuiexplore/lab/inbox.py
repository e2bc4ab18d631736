"""The agent's one inbox and the loop that reads it.

The threads at the edges (stdin, each actor's reader, the capture, the tracer) only post here;
the agent's main thread alone reads, in ``handle_next``, so no state is shared. Requests to
actors are sent from here and their answers matched by id; a client command that arrives while
a step runs waits in ``commands`` until the agent is free.
"""

from __future__ import annotations

import collections
import queue
import time
from collections.abc import Callable
from typing import Any

from tuiexplore.domain import ActorInventory
from tuiexplore.lab import inkernel
from tuiexplore.lab import protocol as proto
from tuiexplore.lab.actors import Actor, ActorGone, Actors, FromActor, FromClient, InboxItem
from tuiexplore.lab.attribution import Attribution
from tuiexplore.lab.output import Output

ANSWER_S = 2.0  # beyond a request's block_s: an actor that says nothing at all by then is stuck


class Inbox:
    def __init__(self, items: queue.Queue[InboxItem], actors: Actors, out: Output, who: Attribution) -> None:
        """``items``: what the threads at the edges (``actors`` among them) put; read only here."""
        self.queue, self.actors, self.out, self.who = items, actors, out, who
        self.commands: collections.deque[proto.Command] = collections.deque()  # read during a step
        self.replies: dict[int, proto.ActorReply] = {}  # answers to requests someone waits for
        self.req_ids = iter(range(1, 1 << 62))

    def handle_next(self, timeout: float | None) -> bool:
        """Read and handle one item (False: none came within ``timeout``). Commands that arrive
        while a step runs wait; packets wait for ``Evidence.drain`` (the step event comes first)."""
        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            return False
        if isinstance(item, FromClient):
            self.commands.append(item.cmd)
        elif isinstance(item, FromActor):
            self.on_reply(self.actors.by_name[item.actor], item.reply)
        elif isinstance(item, ActorGone):
            a = self.actors.by_name[item.actor]
            a.alive = False
            a.sockets.clear()
        return True

    def pump(self, until: Callable[[], bool], deadline: float) -> bool:
        """Handle items until ``until()`` holds or the deadline passes."""
        while not until():
            left = deadline - time.time()
            if left <= 0 or not self.handle_next(left):
                return until()
        return True

    def on_reply(self, a: Actor, msg: proto.ActorReply) -> None:
        sockets = getattr(msg, "sockets", None)
        if sockets is not None:
            a.sockets = {s.name: s for s in sockets}
            self.who.sockets(a.name, sockets)
        pending = a.blocked
        if pending is not None and msg.id == pending.request.id and isinstance(msg, (proto.Returned, proto.Failed)):
            a.blocked = None  # a call that blocked has come back: say so in its step's name
            req, n = pending.request, pending.step
            if isinstance(msg, proto.Returned):
                err = f" ({msg.errno})" if msg.errno else ""
                text = f"step {n}: {a.name} {req.call}() returned {msg.ret}{err} after {msg.t1 - msg.t0:.2f} s"
                self.out.note("info", text, n, msg.t1)
                self.out.epoll(n, a.name, msg)
            else:
                self.out.note("error", f"step {n}: {a.name}: {msg.message}", n, msg.t1)
        elif not isinstance(msg, proto.Blocked) or msg.id not in self.replies:
            self.replies[msg.id] = msg

    def request(
        self, a: Actor, call: str, args: dict[str, Any], block_s: float
    ) -> tuple[proto.ActorRequest, proto.ActorReply | None]:
        """Send one request and wait for its first answer (None: the actor said nothing in time)."""
        req = proto.ActorRequest(next(self.req_ids), call, args, block_s)
        a.send(req)
        # The actor asks the kernel whether a call past block_s sleeps in it (lab/inkernel.py).
        bound = block_s + inkernel.BOUND_S + ANSWER_S
        self.pump(lambda: req.id in self.replies or not a.alive, time.time() + bound)
        return req, self.replies.pop(req.id, None)

    def inspect_all(self, within: float = ANSWER_S) -> dict[str, ActorInventory]:
        """Every live actor's sockets, asked of all at once (each given ``within`` s to answer);
        the dead ones as they were left."""
        live = self.actors.live()
        ids = {}
        for a in live:
            ids[a.name] = proto.ActorRequest(next(self.req_ids), "inspect")
            a.send(ids[a.name])
        self.pump(lambda: all(r.id in self.replies or not self.actors.get(n).alive for n, r in ids.items()), time.time() + within)
        for r in ids.values():
            self.replies.pop(r.id, None)
        return {
            a.name: ActorInventory(a.pid if a.alive else None, list(a.sockets.values()), a.blocked is not None)
            for a in self.actors.all()
            if a.name in ids or not a.alive
        }
