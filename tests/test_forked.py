"""Actors forked from the agent (lab/forked.py): a lab's first actors are forks of its agent, hold
only their own pipes, and serve as an exec'd actor does; with another thread running, the agent
execs a fresh interpreter instead (a fork could inherit a lock held for ever)."""

import os
import queue
import threading

from tuiexplore.lab.actors import FromActor, ScriptedActor
from tuiexplore.lab.client import Lab
from tuiexplore.lab.protocol import ActorRequest, Sockets


def cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode()


def fds(pid: int) -> set[int]:
    return {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}


def test_a_labs_actors_are_forks_of_its_agent_holding_only_their_pipes():
    with Lab() as lab:
        lab.start(["server", "client"])
        actors = lab.inspect()
        agent = lab.pid
        for name in ("server", "client"):
            pid = actors[name].pid
            assert "tuiexplore.lab.agent" in cmdline(pid), "forked from the agent: no interpreter of its own"
            with open(f"/proc/{pid}/comm") as f:
                assert f.read().strip() == f"te-{name}"
            assert fds(pid) == {0, 1, 2}, "the agent's other fds (its pipes to us, the other actor's) are closed"
            with open(f"/proc/{pid}/stat") as f:
                assert int(f.read().rpartition(")")[2].split()[1]) == agent


def test_with_another_thread_running_the_actor_is_a_fresh_interpreter():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    replies: queue.Queue = queue.Queue()
    a = ScriptedActor("client", replies.put)
    try:
        a.send(ActorRequest(1, "inspect", {}))
        got = replies.get(timeout=30)
        assert isinstance(got, FromActor) and isinstance(got.reply, Sockets) and got.reply.pid == a.pid
        # Only once it has answered: Popen returns when exec closes its error pipe, which is before
        # the new image's arguments are set up, so /proc/PID/cmdline can still read empty then.
        assert "tuiexplore.lab.actor client" in cmdline(a.pid)
    finally:
        stop.set()
        a.kill()
