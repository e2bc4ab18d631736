"""The process a script runs in: ``python -m tuiexplore.packetdrill.agent -``.

It says it is up (``READY``), then reads its options, the script's text among them, as one
JSON line on stdin: the same way on this host and inside a guest kernel, where stdin and stdout
are the guest's virtio port and the host's files (its /tmp) are not all visible. It enters a
private network namespace of its own (as the lab agent does: a user namespace when not root),
sets the script's sysctls there, makes the TUN device and runs the script, writing each event
as a JSON line on stdout and ending with an ``end`` event.
"""

from __future__ import annotations

import json
import os
import sys

from tuiexplore.lab.codec import from_data
from tuiexplore.lab.namespace import NamespaceError, enter
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.timeline import Event, NoteEvent

from .command import PktInputError, check
from .events import READY, EndEvent, encode
from .netdev import IPV4, IPV6, Netdev, NetdevError
from .reasons import start as start_reasons
from .runner import Runner
from .sysctls import apply


def _emit(event: Event) -> None:
    sys.stdout.write(encode(event) + "\n")
    sys.stdout.flush()


def _realtime() -> None:
    """packetdrill's set_scheduling_priority(): the lowest real-time priority, round-robin, when
    there is more than one CPU, so a busy machine does not make the script's events late. Not
    allowed without root (CAP_SYS_NICE): then the run goes on at normal priority, as packetdrill's."""
    if (os.cpu_count() or 1) <= 1:
        return
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(os.sched_get_priority_min(os.SCHED_RR)))
    except OSError:
        pass


def main() -> int:
    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    opts = json.loads(sys.stdin.readline())
    # A blocking call's thread gets the interpreter back within 0.5 ms of its syscall returning
    # (the default 5 ms would be more than the tolerance).
    sys.setswitchinterval(0.0005)
    _realtime()
    path = opts["path"]
    try:
        checked = check(path, opts["defines"], opts["text"])
        ns = enter()
        for note in apply(checked.plan.settings):
            _emit(NoteEvent(0.0, "warn", note))
        # The script's own --ip_version line wins, as the kernel's runner reads it.
        version = checked.script.option("ip_version")
        dev = Netdev(IPV6 if (version == "ipv6" if version else opts["ipv6"]) else IPV4, checked.mtu)
    except (PktInputError, NamespaceError, NetdevError) as exc:
        _emit(NoteEvent(0.0, "error", str(exc)))
        _emit(EndEvent(0.0, 2))
        return 2
    script = checked.script
    given = script.option("tolerance_usecs")
    tolerance = (
        opts["tolerance_usecs"] if opts["tolerance_usecs"] is not None else int(given) if given and given.isdigit() else 4000
    )
    counted, rules = opts.get("counted", False), from_data(ReceiveRules, opts.get("rules") or {})
    runner = Runner(script, path, dev, tolerance, _emit, opts.get("unread_rule"), counted=counted, rules=rules)
    conn = runner.packets.conn
    runner.reasons, why = start_reasons(ns, lambda: (conn.local_port, conn.remote_port))
    if why:
        _emit(NoteEvent(0.0, "info", why))
    try:
        status = runner.run()
    finally:
        runner.calls.close_all()
        runner.reasons.close()
        dev.close()
    _emit(EndEvent(runner.t(), status))
    return status


if __name__ == "__main__":
    sys.exit(main())
