"""Whether a kernel takes a bare FIN that arrives into a zero receive window: tcp_data_queue()'s
``if (tcp_receive_window(tp) == 0)`` branch drops any in-order segment there (TCPZeroWindowDrop)
unless it carries the exception of "tcp: accept bare FIN packets under memory pressure"
(``if (!skb->len && (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_FIN)) goto queue_and_out;``).

As for the unread-data rule (unread_probe.py), a version number does not tell (stable trees
take such fixes), so it is read from the kernel's own source (its tree: ``--kernel-src``, the
running kernel's, a guest line's), else asked of the kernel itself: the scripted peer of a
packetdrill script (packetdrill/probes/zero_window_fin.pkt) fills a small receive buffer and
sends a bare FIN into the closed window; the ACK after it says which. Cached per release.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from tuiexplore import probe_cache
from tuiexplore.kernel.excerpt import function_lines
from tuiexplore.kernel.receipt_source import tree_text
from tuiexplore.timeline import Event, PacketEvent

if TYPE_CHECKING:
    from tuiexplore.guest.machine import Guest

FORMAT = 1
TCP_INPUT = "net/ipv4/tcp_input.c"
PROBE = "zero_window_fin.pkt"
PROBE_USECS = 500_000  # wide: the answer is the ACK's number, and a slow guest must reach the FIN
TAKEN, DROPPED = 60002, 60001  # the probe's ACK after its FIN: RCV.NXT past the FIN, or not
_EXCEPTION = re.compile(r"!\s*skb->len\s*&&\s*\(?\s*TCP_SKB_CB\(skb\)->tcp_flags\s*&\s*TCPHDR_FIN")


def from_source(text: str) -> bool | None:
    """From tcp_input.c's text: does tcp_data_queue()'s zero-window branch let a bare FIN
    through before its drop? None: no such function or branch found."""
    got = function_lines(text, "tcp_data_queue")
    if got is None:
        return None
    body = "\n".join(got[1])
    zero = body.find("tcp_receive_window(tp) == 0")
    drop = body.find("TCPZEROWINDOWDROP", zero)
    if zero < 0 or drop < 0:
        return None
    return _EXCEPTION.search(body[zero:drop]) is not None


def from_tree(kernel_src: str | None) -> bool | None:
    """From the kernel tree given (a guest line's, --kernel-src), else the running kernel's."""
    text = tree_text(TCP_INPUT, kernel_src)
    return from_source(text) if text else None


def probe_path() -> str:
    return str(resources.files("tuiexplore.packetdrill") / "probes" / PROBE)


def seen(events: Iterable[Event]) -> bool | None:
    """The probe run's answer: the kernel ACKed past the FIN (taken) or only the data (dropped)."""
    acks = {e.ack for e in events if isinstance(e, PacketEvent) and e.src == "local" and e.flags == "."}
    return True if TAKEN in acks else False if DROPPED in acks else None


def _cache(release: str, env: Mapping[str, str] | None) -> Path:
    return probe_cache.path("bare-fin", FORMAT, release, env)


def _cached(where: Path, release: str) -> bool | None:
    taken = probe_cache.read(where, FORMAT, release, "taken")
    return taken if isinstance(taken, bool) else None


def probe(release: str, run: Callable[[str], Iterable[Event]], env: Mapping[str, str] | None = None) -> bool | None:
    """What the kernel of ``release`` did with the probe (cached); ``run`` runs a script on that
    kernel and gives its events. None when the run could not tell (it did not get that far)."""
    path = _cache(release, env)
    taken = _cached(path, release)
    if taken is not None:
        return taken
    try:
        taken = seen(run(probe_path()))
    except Exception:  # a run that cannot start: not known, the predictor says so
        return None
    if taken is not None:
        probe_cache.store(path, release=release, fmt=FORMAT, key="taken", value=taken)
    return taken


def bare_fin_taken(
    release: str, run: Callable[[str], Iterable[Event]], kernel_src: str | None = None, guest: bool = False
) -> bool | None:
    """The kernel's own source when at hand (a guest's is its line's tree, never this host's),
    else the probe."""
    taken = None if guest and not kernel_src else from_tree(kernel_src)
    return taken if taken is not None else probe(release, run)


def for_kernel(guest: Guest | None, kernel_src: str | None = None) -> bool | None:
    """For the kernel a script or lab runs on: ``guest``'s line (its own tree, or the probe run
    in that guest), else this machine's running kernel (``kernel_src``, else its own tree)."""
    from tuiexplore.packetdrill.client import RunOptions, ScriptRun

    def run(path: str) -> list[Event]:
        script = ScriptRun(RunOptions(path, tolerance_usecs=PROBE_USECS), guest.script_transport if guest else None)
        try:
            return list(script.events())
        finally:
            script.close()

    if guest is not None:
        return bare_fin_taken(guest.kernel.release, run, guest.kernel.source, guest=True)
    return bare_fin_taken(platform.release(), run, kernel_src)
