"""The actor interface: what the agent needs from anything that performs one syscall per step.

Today's implementation is :class:`ScriptedActor`, a ``python -m tuiexplore.lab.actor`` process of
its own. A traced program (ptrace) or an agent in a guest plugs in as another ``Actor`` made by
an ``ActorFactory``; the agent's loop, attribution and predictions do not change.

Contract for an implementation: ``send`` returns at once; every reply arrives later, from any
thread, as ``post(FromActor(name, reply))`` with the typed replies of ``lab/protocol.py``
(``Returned`` | ``Blocked`` then ``Returned`` | ``Failed`` | ``Refused`` | ``Sockets`` for an
``inspect`` request), and ``post(ActorGone(name))`` once when it can answer no more.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from tuiexplore.domain import SocketRow
from tuiexplore.lab.codec import encode
from tuiexplore.lab.forked import Forked, single_threaded
from tuiexplore.lab.protocol import ActorReply, ActorRequest, Command, decode_actor_reply
from tuiexplore.procwait import wait_exit


# -- what the agent's one inbox carries --------------------------------------------------------
@dataclass(frozen=True)
class FromClient:
    cmd: Command


@dataclass(frozen=True)
class FromActor:
    actor: str
    reply: ActorReply


@dataclass(frozen=True)
class ActorGone:
    actor: str


@dataclass(frozen=True)
class Wake:
    """The capture or the tracer has something queued."""


InboxItem = FromClient | FromActor | ActorGone | Wake
Post = Callable[[InboxItem], None]


@dataclass(frozen=True)
class PendingCall:
    """A request still in the kernel, and the step that made it."""

    request: ActorRequest
    step: int


class Actor(ABC):
    def __init__(self, name: str, pid: int | None) -> None:
        self.name = name
        self.pid = pid
        self.alive = True
        self.sockets: dict[str, SocketRow] = {}  # fd name -> the kernel's latest word on it
        self.blocked: PendingCall | None = None

    @abstractmethod
    def send(self, req: ActorRequest) -> None:
        """Deliver one request; never waits for the answer."""

    @abstractmethod
    def reap(self, timeout: float) -> None:
        """After an ``exit`` request: wait for the actor to end, force it after ``timeout``."""

    @abstractmethod
    def kill(self) -> None:
        """End it now (the lab is closing), and wait until it has."""

    def stop(self) -> None:
        """Start ending it, without waiting (the lab is closing: ``kill`` follows, once the
        lab's other parts are closed, rather than each waited for in turn)."""
        self.kill()


ActorFactory = Callable[[str, Post], Actor]


class ScriptedActor(Actor):
    """An actor process of our own, speaking ``protocol`` JSON lines on its stdin/stdout."""

    def __init__(self, name: str, post: Post, env: dict[str, str] | None = None) -> None:
        """``env``: more environment for the process (on the relay's wire, its side's addresses)."""
        # Made from the agent's main thread: PR_SET_PDEATHSIG fires when the creating *thread* ends.
        self.proc: subprocess.Popen | Forked
        if single_threaded():
            from tuiexplore.lab import actor  # imported here, before the fork: the child runs it

            # The agent's own imports: no interpreter to start.
            run = functools.partial(_in_fork, actor.run, name, os.getpid(), env or {})
            self.proc = Forked(["fork", "tuiexplore.lab.actor", name], run)
        else:  # another thread could hold a lock for ever in a fork
            env = {**os.environ, **(env or {})}
            root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "tuiexplore.lab.actor", name, str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                text=True,
                bufsize=1,
            )
        super().__init__(name, self.proc.pid)
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPEs
        self._stdin, self._stdout = self.proc.stdin, self.proc.stdout
        self._post = post
        self._reader: threading.Thread | None = None  # started by the first send: until then the
        # agent may still fork the next actor, which it does only while it has one thread

    def _read(self) -> None:
        for line in self._stdout:
            self._post(FromActor(self.name, decode_actor_reply(line)))
        self._post(ActorGone(self.name))

    def send(self, req: ActorRequest) -> None:
        if self._reader is None:  # every reply comes after a request
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()
        try:
            self._stdin.write(encode(req) + "\n")
            self._stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it died; the reader thread posts ActorGone

    def reap(self, timeout: float) -> None:
        try:
            wait_exit(self.proc, timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def kill(self) -> None:
        self.stop()
        try:
            wait_exit(self.proc, 2)
        except subprocess.TimeoutExpired:
            pass


def _in_fork(run: Callable[[str, int], None], name: str, parent: int, env: dict[str, str]) -> None:
    """An actor's life in a fork of the agent, with the environment an exec'd one is given."""
    os.environ.update(env)
    run(name, parent)


@dataclass
class Actors:
    """The lab's actors by name, made on first use by ``factory``."""

    post: Post
    factory: ActorFactory | None = None  # None: ScriptedActor
    by_name: dict[str, Actor] = field(default_factory=dict)

    def get(self, name: str) -> Actor:
        """The actor of this name, made now if it is the first time it is named."""
        if name not in self.by_name:
            self.by_name[name] = (self.factory or ScriptedActor)(name, self.post)
        return self.by_name[name]

    def live(self) -> list[Actor]:
        return [a for a in self.by_name.values() if a.alive]

    def all(self) -> list[Actor]:
        return list(self.by_name.values())
