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
