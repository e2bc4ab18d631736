"""The relay's switch (tuiexplore/relay/bridge.py), on real sockets in a lab namespace of their
own: a segment reaches its receiver as the sender's own buffer, charged to the receiving socket
as on loopback (what the receiver's window is scaled by); once the lab controls a side, that
side's segments are the relay's to deliver; without a bridge the relay copies every frame."""

import json
import subprocess
import sys

_LAB = """
import json, socket, struct, sys, time
from unittest import mock
from tuiexplore.lab.namespace import enter
from tuiexplore.relay import topology
from tuiexplore.relay.link import LinkError
from tuiexplore.relay.relay import CLIENT, SERVER

SO_MEMINFO = 55

def rmem(s):
    return struct.unpack("I", s.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 4))[0]

def charged(make_server, make_client, addr):
    # What the receiving socket is charged (sk_rmem_alloc) for the client's one 2048-byte write.
    ls = make_server()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind((addr, 0))
    ls.listen()
    c = make_client()
    c.connect((addr, ls.getsockname()[1]))
    s, _ = ls.accept()
    c.send(b"x" * 2048)
    deadline = time.time() + 5
    while not rmem(s) and time.time() < deadline:  # the relay's thread may still be writing it
        time.sleep(0.005)
    out = rmem(s), len(s.recv(65536))
    for sock in (c, s, ls):
        sock.close()
    return out

enter()
mode = sys.argv[1]
if mode == "nobridge":
    mock.patch.object(topology, "Switch", side_effect=LinkError("cannot make the bridge te-br: test")).start()
wire = topology.RelayWire(lambda: None, 0)
wire.relay.start()
def maker(side):
    def make():
        with wire.ns[side].inside():
            return socket.socket()
    return make
result = {"notes": list(wire.capture.notes)}
result["loopback"] = charged(socket.socket, socket.socket, "127.0.0.1")[0]
if mode == "controlled":
    ok, _ = wire.control("client", "duplicate", {"flags": "R", "count": 1}, [])  # a rule no segment here matches
    assert ok
result["relay"], result["read"] = charged(maker(SERVER), maker(CLIENT), topology.ADDRS[SERVER])
deadline = time.time() + 5
while not (caught := wire.relay.caught_up()) and time.time() < deadline:  # the barrier: every frame read
    time.sleep(0.005)
result["caught_up"] = caught
frames = []
while not wire.relay.frames.empty():
    frames.append(wire.relay.frames.get())
result["flags"] = [getattr(f, "flags", None) for f in frames]
wire.relay.stop()
wire.close()
print(json.dumps(result))
"""


def lab(mode: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _LAB, mode], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_segment_is_charged_to_its_receiver_as_on_loopback():
    """The 2048-byte write's segment costs the server's socket what it costs on loopback (the
    sender's buffer, forwarded by the bridge); the relay still saw every frame once."""
    r = lab("bridge")
    assert r["relay"] == r["loopback"], r
    assert r["read"] == 2048 and r["caught_up"], r
    assert r["flags"][:3] == ["S", "S.", "."] and r["flags"].count("S") == 1, r
    assert r["notes"] == []


def test_a_controlled_side_gets_the_relays_copies():
    """From a side's first control on, the relay delivers its segments itself: a new buffer,
    which the receiver is charged at the copy's size, not the sender's."""
    r = lab("controlled")
    assert r["relay"] != r["loopback"], r
    assert r["read"] == 2048 and r["caught_up"], r
    assert r["flags"].count("S") == 1, r  # every frame seen once


def test_without_a_bridge_the_relay_copies_every_frame_and_says_so():
    r = lab("nobridge")
    assert r["read"] == 2048 and r["caught_up"], r
    assert r["flags"][:3] == ["S", "S.", "."] and r["flags"].count("S") == 1, r
    assert r["relay"] != r["loopback"], r  # the copies' accounting
    assert len(r["notes"]) == 1 and "cannot make the bridge te-br: test" in r["notes"][0], r
