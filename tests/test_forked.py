"""Forks instead of fresh interpreters (lab/forked.py): a single-threaded client's agent is a fork
of the client, and a lab's first actors are forks of its agent; each holds only its own pipes
and serves as an exec'd one does. With another thread running, the parent execs a fresh
interpreter instead (a fork could inherit a lock held for ever)."""

import os
import queue
import signal
import subprocess
import sys
import threading

from tuiexplore.lab.actors import FromActor, ScriptedActor
from tuiexplore.lab.client import Lab
from tuiexplore.lab.protocol import ActorRequest, Sockets
from tuiexplore.scenarios.scenario import load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode()


def fds(pid: int) -> set[int]:
    return {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}


def files(pid: int) -> set[str]:
    """What PID's fds above 2 are open on (pipe:[inode], socket:[inode], paths), less the
    anonymous inodes, whose names (anon_inode:[pidfd]) are not one object's."""
    out = set()
    for fd in fds(pid):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # the fd os.listdir itself held
            continue
        if fd > 2 and not target.startswith("anon_inode:"):
            out.add(target)
    return out


def caught(pid: int) -> int:
    """The signals PID has a handler for (SigCgt, bit n-1 for signal n)."""
    with open(f"/proc/{pid}/status") as f:
        return int(next(ln for ln in f if ln.startswith("SigCgt:")).split()[1], 16)


def stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the name: state, ppid, pgrp, session, ..."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()


def test_a_single_threaded_clients_agent_is_a_fork_of_it():
    with Lab() as lab:
        lab.start(["server", "client"])
        agent = lab.pid
        assert agent is not None
        assert cmdline(agent) == cmdline(os.getpid()), "no interpreter of its own"
        with open(f"/proc/{agent}/comm") as f:
            assert f.read().strip() == "te-agent"
        assert stat(agent)[1] == str(os.getpid())
        assert stat(agent)[3] == str(agent), "a session of its own: Ctrl-C reaches the client, not the lab"
        assert {os.readlink(f"/proc/{agent}/fd/{fd}").split(":")[0] for fd in (0, 1)} == {"pipe"}
        assert "/proc/" not in os.readlink(f"/proc/{agent}/fd/2") and 2 in fds(agent)  # its stderr file
        # Beyond its pipes, stderr and what the lab opened itself (capture, tracer, namespaces),
        # none of this process's files: a pipe of ours left open would never reach EOF.
        assert not files(os.getpid()) & files(agent), files(os.getpid()) & files(agent)
        assert lab.inspect()["server"].pid  # it serves
        # pytest's faulthandler catches SIGSEGV here, writing to an fd the fork has closed: the
        # agent, like a fresh interpreter, leaves it to the kernel.
        assert caught(os.getpid()) & 1 << (signal.SIGSEGV - 1)
        assert not caught(agent) & 1 << (signal.SIGSEGV - 1)


def test_with_another_thread_running_the_agent_is_a_fresh_interpreter():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        with Lab() as lab:
            lab.start(["server"])
            assert lab.pid is not None and "-m tuiexplore.lab.agent" in cmdline(lab.pid)
    finally:
        stop.set()


def test_the_forked_agent_does_not_import_from_the_current_directory(tmp_path):
    """As ``python -P`` (the exec'd agent's flag): a module in the directory a root user started
    ``python -m tuiexplore`` from is not what the agent imports (scapy writes the pcap)."""
    stray = tmp_path / "scapy"
    stray.mkdir()
    (stray / "__init__.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tuiexplore", "run", "seed-rst", "--pcap", str(tmp_path / "out.pcap")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "imported").exists()
    assert (tmp_path / "out.pcap").read_bytes()[:4] == bytes.fromhex("d4c3b2a1")


def test_a_labs_actors_are_forks_of_its_agent_holding_only_their_pipes():
    with Lab() as lab:
        lab.start(["server", "client"])
        actors = lab.inspect()
        agent = lab.pid
        for name in ("server", "client"):
            pid = actors[name].pid
            assert cmdline(pid) == cmdline(agent), "forked from the agent: no interpreter of its own"
            with open(f"/proc/{pid}/comm") as f:
                assert f.read().strip() == f"te-{name}"
            assert fds(pid) == {0, 1, 2}, "the agent's other fds (its pipes to us, the other actor's) are closed"
            with open(f"/proc/{pid}/stat") as f:
                assert int(f.read().rpartition(")")[2].split()[1]) == agent


def test_on_the_relays_wire_the_actors_are_forks_too_each_in_its_sides_namespace():
    """A side's actor is forked from inside that side's namespace, with the environment an
    exec'd one was given: its socket binds at its side's address and connects to the server's."""
    scn = load("seed-rst")
    with Lab() as lab:
        info = lab.start(scn.actors, scn.port, wire="relay")
        for step in scn.steps[: next(i for i, s in enumerate(scn.steps) if s.call == "connect") + 1]:
            assert lab.step(step.index, step.actor, step.call, step.resolved(info.port)).ok
        actors = lab.inspect()
        agent = lab.pid
        assert agent is not None
        nets = {os.readlink(f"/proc/{p}/ns/net") for p in (agent, actors["server"].pid, actors["client"].pid)}
        assert len(nets) == 3, nets  # the lab's, the server side's, the client side's
        for name in ("server", "client"):
            assert cmdline(actors[name].pid) == cmdline(agent) and stat(actors[name].pid)[1] == str(agent)
        with open(f"/proc/{actors['client'].pid}/net/tcp") as f:  # its namespace's table
            pairs = [tuple(ln.split()[1:3]) for ln in f.readlines()[1:]]
        hexed = lambda addr, port: "".join(f"{int(b):02X}" for b in reversed(addr.split("."))) + f":{port:04X}"  # noqa: E731
        assert any(lo.startswith(hexed("10.47.0.2", 0)[:8]) and rem == hexed("10.47.0.1", info.port) for lo, rem in pairs), pairs


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
