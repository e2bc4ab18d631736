"""The relay's wire devices (tuiexplore/relay/link.py, topology.py) as the kernel holds them, in a
lab namespace of their own: every veth end's interface index differs from its peer's, which is
what makes the kernel's link watch handle its carrier at once (``linkwatch_urgent_event``); with
equal indexes (each fresh namespace numbers from 1, so both ends were 2) the change waited for the
link watch's once-a-second run, and a relay lab's start took a second more now and then."""

import json
import subprocess
import sys

import pytest

from tests.conftest import IS_ROOT

# Every device of each namespace, from the kernel (RTM_GETLINK dump): name -> [index, IFLA_LINK].
_LAB = """
import json, socket, struct
from tuiexplore.lab.namespace import enter
from tuiexplore.relay import topology

RTM_GETLINK, NLM_F_REQUEST, NLM_F_DUMP, NLMSG_DONE, NLMSG_ERROR = 18, 1, 0x300, 3, 2
IFLA_IFNAME, IFLA_LINK = 3, 5

def links():
    out = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        nl.sendto(struct.pack("IHHII", 32, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + bytes(16), (0, 0))
        while True:
            data, at = nl.recv(65536), 0
            while at + 16 <= len(data):
                size, kind = struct.unpack_from("IH", data, at)
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    return out
                index, attrs, a = struct.unpack_from("i", data, at + 20)[0], {}, at + 32
                while a + 4 <= at + size:
                    alen, akind = struct.unpack_from("HH", data, a)
                    attrs[akind] = data[a + 4 : a + alen]
                    a += (alen + 3) & ~3
                name = attrs[IFLA_IFNAME].rstrip(b"\\0").decode()
                out[name] = [index, struct.unpack("i", attrs[IFLA_LINK])[0] if IFLA_LINK in attrs else index]
                at += (size + 3) & ~3

enter()
wire = topology.RelayWire(lambda: None, 0)
seen = {}
for where, ns in [*wire.ns.items(), ("relay", wire.wire_ns)]:
    with ns.inside():
        seen[where] = links()
wire.close()
print(json.dumps(seen))
"""


@pytest.mark.parametrize("who", ["self", "nobody"])
def test_no_veth_end_shares_its_index_with_its_peer(who):
    if who == "nobody" and not IS_ROOT:
        pytest.skip("needs root to switch to uid 65534 (run unprivileged, 'self' is that case)")
    seen = _lab(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if who == "nobody" else [])
    _check(seen)


def _lab(prefix: list[str]) -> dict:
    proc = subprocess.run([*prefix, sys.executable, "-c", _LAB], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _check(seen: dict) -> None:
    relay = seen["relay"]
    pairs = [(seen[side]["te-wire"], relay[end]) for side, end in (("server", "te-s"), ("client", "te-c"))]
    pairs.append((relay["te-k"], relay["te-kp"]))  # the sink's pair, both ends in the relay's namespace
    for a, b in pairs:
        assert a[1] == b[0] and b[1] == a[0], seen  # each end's link is its peer
        assert a[0] != b[0], seen  # urgent for the link watch: index != link


# A port taken down and brought up again by another thread 0.3 s later: the wait ends when the
# kernel announces the port forwarding, having looked at the ports' states a few times, not
# every millisecond (or, had the thread won the race, at once).
_WAKE = """
import fcntl, json, socket, struct, threading, time
from tuiexplore.lab.namespace import enter
from tuiexplore.relay import bridge, topology

def set_up(name, up):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16s", name.encode()).ljust(40, b"\\0")
        flags = struct.unpack_from("H", fcntl.ioctl(s, 0x8913, req), 16)[0]
        flags = flags | 1 if up else flags & ~1
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", name.encode(), flags).ljust(40, b"\\0"))

enter()
wire = topology.RelayWire(lambda: None, 0)
looks = []
dump = bridge._port_states
bridge._port_states = lambda: looks.append(1) or dump()
with wire.wire_ns.inside():
    set_up("te-c", False)
    def later():
        time.sleep(0.3)
        with wire.wire_ns.inside():
            set_up("te-c", True)
    threading.Thread(target=later).start()
    wire.switch.wait_forwarding()
    forwarding = dump()[socket.if_nametoindex("te-c")] == bridge.BR_STATE_FORWARDING
    set_up("te-c", False)
    try:
        wire.switch.wait_forwarding(timeout=0.2)
        error = ""
    except bridge.LinkError as exc:
        error = str(exc)
wire.close()
print(json.dumps({"looks": len(looks), "forwarding": forwarding, "error": error}))
"""


def test_the_wait_for_the_ports_is_woken_by_the_kernel():
    proc = subprocess.run([sys.executable, "-c", _WAKE], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["forwarding"], r
    assert r["looks"] <= 10, r  # polled every ms, it looked ~300 times
    assert "the bridge te-br's ports did not start forwarding within 0.2 s" in r["error"], r
