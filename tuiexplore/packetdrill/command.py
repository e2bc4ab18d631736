"""``tuiexplore run FILE.pkt``: read a packetdrill script, check it, and say what it holds.

Without ``--dry-run`` (packetdrill's own ``--dry_run``: parse, don't execute) the script runs in
a process of its own (``agent``) against the running kernel, or in a guest kernel's
(``--kernel``, through the guest's transport: ``client``), and its events come back here:
a transcript, or the contract's JSON Lines; packetdrill's ``FILE:LINE: ...`` on stderr when a
line fails. Exit status as packetdrill's: 0 every line held, 1 one did not (2: unusable input).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuiexplore import safetext
from tuiexplore.lab.receive_rules import UNKNOWN, ReceiveRules
from tuiexplore.timeline import NoteEvent

from .events import EndEvent, LineEvent
from .parser import parse
from .script import Code, Command, Script, ScriptError, Syscall, TcpPacket
from .scriptfile import PktInputError, read_script
from .shell import ShellPlan, translate

if TYPE_CHECKING:
    from tuiexplore.lab.transport import Transport


@dataclass(frozen=True)
class Checked:
    script: Script
    plan: ShellPlan
    mtu: int | None = None  # the script's --mtu: its device's MTU (None: packetdrill's default)


def check(path: str, defines: dict[str, str], text: str | None = None) -> Checked:
    """``text``: the script as read already (a run process in a guest cannot read the host's /tmp)."""
    try:
        script = parse(read_script(path) if text is None else text, defines)
    except ScriptError as e:
        raise PktInputError(e.where(path)) from None
    plan = ShellPlan()
    if script.init_command:
        translate(script.init_command.text, script.init_line, plan)
    for event in script.events:
        if isinstance(event.action, Command):
            translate(event.action.text, event.line, plan)
    if script.cleanup_command:
        translate(script.cleanup_command.text, script.cleanup_line, plan)
    return Checked(script, plan, _mtu(script, path))


# A TUN device takes MTUs up to 65535 (the kernel's tun.c MAX_MTU); 68 is IPv4's least.
MTU_RANGE = range(68, 65536)


def _mtu(script: Script, path: str) -> int | None:
    """packetdrill's ``--mtu``: the MTU its TUN device is given, so the MSS the kernel derives
    from it (and the windows that follow) are the ones the script expects."""
    given = script.option("mtu")
    if given is None:
        return None
    if not given.isdigit() or int(given) not in MTU_RANGE:
        line = next(o.line for o in reversed(script.options) if o.name == "mtu")
        took = f"{MTU_RANGE.start} to {MTU_RANGE.stop - 1}"
        raise PktInputError(f"{path}:{line}: --mtu={safetext.terminal(given)}: not an MTU a TUN device takes ({took})")
    return int(given)


def describe(event_action: object) -> str:
    if isinstance(event_action, Syscall):
        return f"syscall {event_action.name}"
    if isinstance(event_action, TcpPacket):
        return ("inject " if event_action.inbound else "expect ") + (event_action.flags or "(no flags)")
    if isinstance(event_action, Command):
        return "shell (sysctls only)"
    if isinstance(event_action, Code):
        return "tcp_info assert"
    return type(event_action).__name__


def dry_run(path: str, defines: dict[str, str], emit: Callable[[str], None]) -> int:
    """List what the script holds and what the lab would set; 0 when it can be run as written."""
    checked = check(path, defines)
    s, plan = checked.script, checked.plan
    safe = safetext.terminal
    counts = {"syscall": 0, "inject": 0, "expect": 0}
    for e in s.events:
        kind = describe(e.action)
        counts[kind.split()[0]] = counts.get(kind.split()[0], 0) + 1
        emit(f"{e.line:>5}  {kind:<22} {safe(e.source)}")
    for x in plan.settings:
        emit(f"{x.line:>5}  sysctl {safe(x.name)}={safe(x.value)}  (in the lab's namespace; from {safe(x.via)})")
    for note in plan.ignored:
        emit(f"    #  {safe(note)}")
    for o in s.options:
        emit(f"{o.line:>5}  option --{safe(o.name)}" + (f"={safe(o.value)}" if o.value is not None else ""))
    summary = f"{len(s.events)} events: {counts['syscall']} syscalls, {counts['inject']} injected, {counts['expect']} expected"
    emit(f"# {safe(path)}: {summary}, {len(plan.settings)} sysctls")
    for r in plan.refused:
        emit(f"{safe(path)}:{r.line}: refused `{safe(r.text)}`: {r.why}")
    return 2 if plan.refused else 0


def run(path: str, defines: list[str], dry: bool, emit: Callable[[str], None], opts: PktRunFlags | None = None) -> int:
    """The CLI's ``run FILE.pkt [--dry-run] [-D NAME=VALUE] [--json] [-6] [--tolerance-usecs N]``."""
    macros = dict(d.partition("=")[::2] for d in defines)
    if dry:
        return dry_run(path, macros, emit)
    flags = opts or PktRunFlags()
    checked = check(path, macros)
    for r in checked.plan.refused:
        raise PktInputError(f"{path}:{r.line}: refused `{r.text}`: {r.why} (--dry-run lists the script)")
    from .client import RunOptions, ScriptRun
    from .render import line

    options = RunOptions(path, macros, flags.ipv6, flags.tolerance_usecs, unread_rule=flags.unread_rule, rules=flags.rules)
    run_ = ScriptRun(options, flags.guest)
    if run_.error:  # the guest cannot run it (no tun, no QEMU, no boot): one line
        flags.error(safetext.terminal(run_.error))
        return 2
    status = 2
    try:
        if run_.where:
            where = NoteEvent(0.0, "info", f"the script runs in a {run_.where}, not on this host's kernel")
            emit(where.to_json() if flags.json else line(where))
        for event in run_.events():
            if isinstance(event, EndEvent):
                status = event.status
            text = event.to_json() if flags.json else line(event)
            if text:
                emit(text)
            if isinstance(event, LineEvent) and event.ok is False:
                flags.error(safetext.terminal(event.text))
    finally:
        run_.close()
    return status


@dataclass(frozen=True)
class PktRunFlags:
    json: bool = False
    ipv6: bool = False
    tolerance_usecs: int | None = None
    unread_rule: str | None = None
    rules: ReceiveRules = UNKNOWN  # rules_probe.py
    guest: Callable[[], Transport] | None = None  # --kernel: the guest's Guest.script_transport
    error: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)
