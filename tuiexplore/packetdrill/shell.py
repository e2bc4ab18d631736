"""Backtick lines: what they would set, never what they would run.

packetdrill runs a script's backtick lines with ``/bin/sh``. A script is a file from anywhere, so
here no line is ever executed. The lines the teardown suites use only set sysctls of the test's
network namespace, and those become the lab's own settings (its namespace is private, so the
host is never touched): ``sysctl [-q] [-w] name=value``, ``set_sysctls.py /proc/sys/...=value``,
``echo value > /proc/sys/...``, and the suites' ``defaults.sh``, recognised by its name, whose
settings are written below rather than read from the file. Anything else is refused with its line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

# The kernel's tools/testing/selftests/net/packetdrill/defaults.sh (Linux 6.18): the sysctls it
# sets, in its order. Its two other lines need nothing in a fresh lab: `ip tcp_metrics flush all`
# (a new namespace has no cached metrics) and `tc qdisc add dev tun0 root pfifo` (the lab's
# device queues nothing of its own).
SELFTEST_DEFAULTS: tuple[tuple[str, str], ...] = (
    ("net.ipv4.tcp_rmem", "4096 540000 15728640"),
    ("net.ipv4.tcp_wmem", "4096 262144 4194304"),
    ("net.ipv4.tcp_timestamps", "1"),
    ("net.ipv4.tcp_syn_retries", "5"),
    ("net.ipv4.tcp_synack_retries", "5"),
    ("net.ipv4.tcp_frto", "2"),
    ("net.ipv4.tcp_sack", "1"),
    ("net.ipv4.tcp_dsack", "1"),
    ("net.ipv4.tcp_fack", "0"),
    ("net.ipv4.tcp_reordering", "3"),
    ("net.ipv4.tcp_congestion_control", "cubic"),
    ("net.ipv4.tcp_slow_start_after_idle", "0"),
    ("net.ipv4.tcp_early_retrans", "4"),
    ("net.ipv4.tcp_recovery", "1"),
    ("net.ipv4.tcp_tso_win_divisor", "3"),
    ("net.ipv4.tcp_ecn", "0"),
    ("net.ipv4.tcp_pacing_ss_ratio", "200"),
    ("net.ipv4.tcp_pacing_ca_ratio", "120"),
    ("net.ipv4.tcp_notsent_lowat", "4294967295"),
    ("net.ipv4.tcp_fastopen", "0x3"),
    ("net.ipv4.tcp_fastopen_key", "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4"),
    ("net.ipv4.tcp_syncookies", "1"),
)

# Only the network stack's own settings: those are per namespace, so a lab can take them.
_NAME = re.compile(r"net\.(ipv4|ipv6|core)\.[a-z0-9_.]+")
_VALUE = re.compile(r"[A-Za-z0-9_ .:x-]{1,200}")


@dataclass(frozen=True)
class Sysctl:
    name: str  # net.ipv4.tcp_timestamps
    value: str
    line: int
    via: str  # what the script wrote, shortened, for the transcript


@dataclass(frozen=True)
class Refused:
    line: int
    text: str
    why: str


@dataclass
class ShellPlan:
    """What a script's backtick lines amount to: settings for the lab, and what was refused."""

    settings: list[Sysctl] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # recognised, nothing to do in a lab


def translate(command: str, line: int, plan: ShellPlan | None = None) -> ShellPlan:
    """Add what the backtick text ``command`` (starting on ``line``) would do to ``plan``."""
    plan = plan or ShellPlan()
    for offset, simple in _simple_commands(command):
        _one(simple, line + offset, plan)
    return plan


def _simple_commands(command: str) -> list[tuple[int, str]]:
    """The simple commands of a shell text, with the line offset each starts on."""
    out: list[tuple[int, str]] = []
    joined = command.replace("\\\n", " \n")  # a continuation keeps its line count
    for offset, text in enumerate(joined.split("\n")):
        for part in re.split(r"\s*(?:;|&&)\s*", text):
            if part.strip() and not part.strip().startswith("#"):
                out.append((offset, part.strip()))
    return out


def _one(text: str, line: int, plan: ShellPlan) -> None:
    try:
        words = shlex.split(text)
    except ValueError as e:
        plan.refused.append(Refused(line, text, f"not a command the lab can read ({e})"))
        return
    program = PurePosixPath(words[0]).name if words else ""
    args = words[1:]
    if program == "defaults.sh" and not args:
        plan.settings.extend(Sysctl(n, v, line, "defaults.sh") for n, v in SELFTEST_DEFAULTS)
    elif program == "sysctl":
        _sysctl_args(text, args, line, plan)
    elif program in ("set_sysctls.py",):
        for arg in args:
            _proc_sys(text, arg, line, plan)
    elif program == "echo" and len(args) >= 3 and args[-2] == ">":
        _proc_sys(text, args[-1] + "=" + " ".join(args[:-2]), line, plan)
    elif re.fullmatch(r"sysctl_restore_[A-Za-z0-9_${}]*\.sh", program) or program == "restore.sh":
        plan.ignored.append(f"line {line}: {program}: the lab's namespace is discarded, nothing to restore")
    else:
        plan.refused.append(Refused(line, text, "only sysctl settings are taken from a script; shell is never run"))


def _sysctl_args(text: str, args: list[str], line: int, plan: ShellPlan) -> None:
    settings = [a for a in args if not a.startswith("-")]
    if not settings or any(a not in ("-q", "-w", "-e", "-qw", "-wq") for a in args if a.startswith("-")):
        plan.refused.append(Refused(line, text, "only `sysctl [-q] [-w] name=value` is taken"))
        return
    for arg in settings:
        _setting(text, arg, line, plan)


def _proc_sys(text: str, arg: str, line: int, plan: ShellPlan) -> None:
    path, _, value = arg.partition("=")
    if not path.startswith("/proc/sys/") or ".." in path:
        plan.refused.append(Refused(line, text, f"not a /proc/sys setting: {arg[:60]}"))
        return
    _setting(text, path[len("/proc/sys/") :].replace("/", ".") + "=" + value, line, plan)


def _setting(text: str, arg: str, line: int, plan: ShellPlan) -> None:
    name, eq, value = arg.partition("=")
    if not eq or not _NAME.fullmatch(name) or not _VALUE.fullmatch(value):
        plan.refused.append(Refused(line, text, f"not a network sysctl setting: {arg[:60]}"))
        return
    plan.settings.append(Sysctl(name, value, line, text[:80]))
