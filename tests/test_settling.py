"""When a step ends: the kernel's word (frames lo carried, ACKs owed, armed timers, the tracer's
marker) instead of a quiet period. The timelines themselves are guarded by test_timelines.py."""

import os
import subprocess
import sys

from conftest import IS_ROOT, ROOT

from tuiexplore import runner
from tuiexplore.lab.acks import Acks
from tuiexplore.lab.capture import Frame
from tuiexplore.lab.evidence import ARMED
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import NoteEvent, PacketEvent

C, S = ("127.0.0.1", 40000), ("127.0.0.1", 5000)


def seg(src, dst, flags, seq, ack=0, length=0, ts=0.0) -> Frame:
    return Frame(ts, b"", src[0], dst[0], src[1], dst[1], seq, ack, flags, 64, length)


def test_a_late_ack_belongs_to_the_step_whose_data_it_answers():
    acks = Acks()
    assert acks.frame(seg(S, C, 0x18, 100, 900, 5, ts=1.0), step=3) == 3  # the server's 5 bytes
    assert acks.owed_since() == 1.0  # the client has not answered them
    late = seg(C, S, 0x10, 900, 105, ts=1.3)  # its delayed ACK, once step 4 has begun
    assert acks.frame(late, step=4) == 3
    assert acks.owed_since() is None


def test_an_ack_after_the_receiver_spoke_again_is_the_current_steps():
    acks = Acks()
    acks.frame(seg(S, C, 0x18, 100, 900, 5, ts=1.0), step=3)
    acks.frame(seg(C, S, 0x18, 900, 105, 2, ts=1.1), step=3)  # answered with data of its own
    assert acks.frame(seg(C, S, 0x10, 902, 105, ts=1.2), step=4) == 4  # not an answer to step 3


def test_a_reset_connection_owes_nothing():
    acks = Acks()
    acks.frame(seg(C, S, 0x02, 7, ts=1.0), step=2)  # a SYN
    assert acks.owed_since() == 1.0
    acks.frame(seg(S, C, 0x14, 0, 8, ts=1.0001), step=2)  # RST, ACK: refused
    assert acks.owed_since() is None


def test_a_step_names_the_timer_it_leaves_armed():
    # The client's write fills the server's zero window: its probe timer is armed for 200 ms or
    # more, longer than the step lasts, so the step says so, and the probes come later (in the
    # close that lingers), as they did when every step waited 60 ms of quiet.
    r = runner.run(load("zero-window-close"))
    assert r.ok, r.failures
    notes = [e for e in r.events if isinstance(e, NoteEvent) and ARMED in e.text]
    assert [(n.step, n.text.split(":")[0]) for n in notes] == [(9, "client sock")]
    assert "zero-window probe timer" in notes[0].text
    probes = [p for p in r.events if isinstance(p, PacketEvent) and p.src == "client" and p.flags == "." and p.seq == 4096]
    assert probes and all(p.step == 11 for p in probes)


def test_the_tracers_marker_comes_back_after_every_earlier_event():
    if not IS_ROOT:
        return  # tracepoints need root; an unprivileged lab has no tracer to wait for
    code = f"""
import socket, sys, time
sys.path.insert(0, {str(ROOT)!r})
from tuiexplore.lab.namespace import lo_up
from tuiexplore.lab.tracepoints import Tracer, find_tracefs
lo_up()
srv = socket.create_server(("127.0.0.1", 0))
t = Tracer(find_tracefs(mount_if_missing=True), srv.getsockname()[1])  # a private mount
t.start()
c = socket.create_connection(srv.getsockname())  # CLOSE->SYN_SENT->ESTABLISHED, LISTEN->SYN_RECV->ESTABLISHED
token = t.barrier()
deadline = time.time() + 10
while t.passed < token and time.time() < deadline:
    time.sleep(0.001)
seen = t.events.qsize()
t.close()
print(token, t.passed, seen)
"""
    out = subprocess.run(["unshare", "-nm", sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    token, passed, seen = map(int, out.stdout.split())
    assert passed == token == 1
    assert seen == 4  # every state change of the connect was read before the marker


def test_the_capture_mark_counts_frames_lo_carried():
    # lo's tx_packets in the namespace: a frame counts from the moment lo hands it on, before any
    # packet socket has it; a mark taken then is reached only once the capture has read it.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = """
import socket
from tuiexplore.lab.capture import lo_frames
from tuiexplore.lab.namespace import lo_up
lo_up()
before = lo_frames()
srv = socket.create_server(("127.0.0.1", 0))
c = socket.create_connection(srv.getsockname())
print(lo_frames() - before)
"""
    unshare = ["unshare", "-n"] if IS_ROOT else ["unshare", "-rn"]
    out = subprocess.run([*unshare, sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3"]  # SYN, SYN-ACK, ACK


def test_a_withheld_segment_is_owed_once_delivered_and_its_answer_is_that_steps():
    # The relay holds the client's FIN in step 8: the server has not got it, owes nothing (a step
    # waiting for its ACK would wait for nothing). Released in step 10, it is owed from then,
    # and an ACK that comes once step 11 has begun is step 10's, not step 8's.
    acks = Acks()
    fin = seg(C, S, 0x11, 900, 100, ts=1.0)
    assert acks.frame(fin, step=8, delivered=False) == 8
    assert acks.owed_since() is None
    acks.delivered(fin, 2.0, step=10)
    assert acks.owed_since() == 2.0
    assert acks.frame(seg(S, C, 0x10, 100, 901, ts=2.1), step=11) == 10
    assert acks.owed_since() is None


def test_the_relays_barrier_counts_frames_it_has_not_handed_on():
    # The frames a side put on its veth are counted at the relay's end before the relay reads
    # them: with the relay's thread not started, a SYN is counted and the capture is behind; once
    # the relay runs it has handed on the SYN, and what the SYN made the server send is counted
    # and handed on too (the handshake completes through it).
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = """
import socket, time
from tuiexplore.lab.namespace import lo_up
from tuiexplore.relay.topology import ADDRS, RelayWire
lo_up()
wire = RelayWire(lambda: None, 5000)
with wire.ns["server"].inside():
    srv = socket.create_server((ADDRS["server"], 5000))
with wire.ns["client"].inside():
    c = socket.socket()
c.setblocking(False)
c.connect_ex((ADDRS["server"], 5000))
deadline = time.time() + 5  # a SYN sent before the link's queue is set up is dropped: its retransmission is counted
while wire._arrived() - wire._base < 1 and time.time() < deadline:
    time.sleep(0.001)
behind = wire.relay.caught_up()
wire.capture.start()
deadline = time.time() + 5
while not (wire.capture.caught_up() and c.getsockopt(socket.SOL_TCP, socket.TCP_INFO, 1)[0] == 1) and time.time() < deadline:
    time.sleep(0.001)
flags = []
while not wire.capture.frames.empty():
    flags.append(wire.capture.frames.get().flags)
print(behind, wire.capture.caught_up(), " ".join(flags))
wire.capture.stop()
wire.close()
"""
    unshare = ["unshare", "-n"] if IS_ROOT else ["unshare", "-rn"]
    out = subprocess.run([*unshare, sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "S", "S.", "."]
