"""A kernel's receive rules (lab/receive_rules.py), each where the version does not tell:
read from the kernel's own tcp_input.c (its tree: ``--kernel-src``, the running kernel's, a
guest line's), else asked of the kernel itself by the probe scripts that answer what the source
did not (one run may answer several rules: bare_fin_probe.py's, ack_probe.py's). The probes'
answers are cached in one file per release, so each kernel is probed once.
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from tuiexplore import ack_probe, bare_fin_probe, probe_cache
from tuiexplore.kernel.receipt_source import tree_text
from tuiexplore.lab.receive_rules import UNKNOWN, ReceiveRules
from tuiexplore.timeline import Event

if TYPE_CHECKING:
    from tuiexplore.guest.machine import Guest

FORMAT = 1
TCP_INPUT = "net/ipv4/tcp_input.c"
PROBE_USECS = 500_000  # wide: the answers are which segments came, and a slow guest must get there
Answers = dict[str, bool | None]


@dataclass(frozen=True)
class Probe:
    script: str  # in packetdrill/probes/
    rules: tuple[str, ...]  # the ReceiveRules fields its run answers
    seen: Callable[[Iterable[Event]], Answers]


PROBES = (
    Probe(bare_fin_probe.PROBE, ("bare_fin",), lambda events: {"bare_fin": bare_fin_probe.seen(events)}),
    Probe(ack_probe.PROBE, ("ack_unsent_challenge", "ack_old_bytes_acked"), ack_probe.seen),
)


def from_source(text: str) -> ReceiveRules:
    return ReceiveRules(bare_fin=bare_fin_probe.from_source(text), **ack_probe.from_source(text))


def from_tree(kernel_src: str | None) -> ReceiveRules:
    """From the kernel tree given (a guest line's, --kernel-src), else the running kernel's."""
    text = tree_text(TCP_INPUT, kernel_src)
    return from_source(text) if text else ReceiveRules()


def probe_path(script: str) -> str:
    return str(resources.files("tuiexplore.packetdrill") / "probes" / script)


def probe(
    release: str, run: Callable[[str], Iterable[Event]], known: ReceiveRules = UNKNOWN, env: Mapping[str, str] | None = None
) -> ReceiveRules:
    """``known`` with what it lacks from the cache, else from the probes that answer it (run by
    ``run`` on that kernel, which gives a script's events); a probe that could not tell leaves
    its rules None and is not cached (the next run asks again)."""
    where = probe_cache.path("receive-rules", FORMAT, release, env)
    cached = probe_cache.read(where, FORMAT, release, "rules")
    found: Answers = {k: v for k, v in cached.items() if isinstance(v, bool)} if isinstance(cached, dict) else {}
    rules = _with(known, found)
    asked = False
    for p in PROBES:
        if all(getattr(rules, name) is not None for name in p.rules):
            continue
        try:
            got = p.seen(run(probe_path(p.script)))
        except Exception:  # a run that cannot start: not known, the predictor says so
            continue
        answered = {k: v for k, v in got.items() if v is not None}
        found.update(answered)
        asked = asked or bool(answered)
        rules = _with(rules, answered)
    if asked:
        probe_cache.store(where, release=release, fmt=FORMAT, key="rules", value=found)
    return rules


def _with(rules: ReceiveRules, answers: Mapping[str, bool | None]) -> ReceiveRules:
    """``rules`` with each of ``answers`` that it does not know yet."""
    fill = {k: v for k, v in answers.items() if getattr(rules, k, False) is None and v is not None}
    return dataclasses.replace(rules, **fill)


def rules_of(
    release: str, run: Callable[[str], Iterable[Event]], kernel_src: str | None = None, guest: bool = False
) -> ReceiveRules:
    """The kernel's own source when at hand (a guest's is its line's tree, never this host's),
    then the probes for what it did not say."""
    known = ReceiveRules() if guest and not kernel_src else from_tree(kernel_src)
    return probe(release, run, known)


def for_kernel(guest: Guest | None, kernel_src: str | None = None) -> ReceiveRules:
    """For the kernel a script or lab runs on: ``guest``'s line (its own tree, or the probes run
    in that guest), else this machine's running kernel (``kernel_src``, else its own tree)."""
    from tuiexplore.packetdrill.client import RunOptions, ScriptRun

    def run(path: str) -> list[Event]:
        script = ScriptRun(RunOptions(path, tolerance_usecs=PROBE_USECS), guest.script_transport if guest else None)
        try:
            return list(script.events())
        finally:
            script.close()

    if guest is not None:
        return rules_of(guest.kernel.release, run, guest.kernel.source, guest=True)
    return rules_of(platform.release(), run, kernel_src)
