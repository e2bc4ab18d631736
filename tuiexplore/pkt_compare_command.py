"""``tuiexplore compare FILE.pkt --kernel A --kernel B``: one packetdrill script on two kernels
(``host`` is this machine's), and the line where they part (``packetdrill.compare``).

The two runs go one after the other, not side by side as two scenarios do: a script is judged
on its timing, and two guests sharing the CPUs would make a late line look like a kernel's
decision.
"""

from __future__ import annotations

import argparse
import platform
import sys

from tuiexplore import rules_probe, safetext
from tuiexplore.cli_common import InputError, guest


def add_options(p: argparse.ArgumentParser) -> None:
    """compare's options that only a .pkt script takes (as run's)."""
    p.add_argument("-D", "--define", action="append", default=[], metavar="NAME=VALUE", help="a .pkt macro, as packetdrill's -D")
    p.add_argument("-6", "--ipv6", action="store_true", help="a .pkt script: run it over IPv6")
    p.add_argument("--tolerance-usecs", type=int, metavar="N", help="a .pkt script's timing tolerance (default 4000)")


def compare_pkt(args: argparse.Namespace) -> int:
    from tuiexplore.packetdrill.client import RunOptions, ScriptRun
    from tuiexplore.packetdrill.command import PktInputError, check
    from tuiexplore.packetdrill.compare import SideRun, collect, text

    kernels = args.kernel or []
    if args.b is not None or len(kernels) != 2:
        raise InputError(f"{safetext.terminal(args.a)}: compare takes one .pkt script and two --kernel (host is this machine's)")
    macros = dict(d.partition("=")[::2] for d in args.define)
    try:
        script = check(args.a, macros).script
    except PktInputError as exc:
        raise InputError(str(exc)) from None
    launchers = [guest(k) for k in kernels]
    sides: list[SideRun] = []
    for k, g in zip(kernels, launchers, strict=True):
        print(safetext.terminal(f"running {args.a} on {k}..."), file=sys.stderr, flush=True)
        rules = rules_probe.for_kernel(g)
        opts = RunOptions(args.a, macros, args.ipv6, args.tolerance_usecs, g.unread_rule() if g else None, True, rules)
        run = ScriptRun(opts, g.script_transport if g else None)
        try:
            where = run.where or f"host Linux {platform.release()}"
            sides.append(collect(script, where, run.events()))
        finally:
            run.close()
    for line in text(script, args.a, sides[0], sides[1]):
        print(line)
    return 1 if any(s.status == 2 for s in sides) else 0
