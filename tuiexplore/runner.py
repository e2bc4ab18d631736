"""Running a scenario headless: perform its steps in a fresh lab, then check its expectations."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tuiexplore.domain import ActorInventory, LabInfo, StepDone
from tuiexplore.lab.client import Lab
from tuiexplore.lab.names import process_names
from tuiexplore.lab.predict import kernel_version
from tuiexplore.lab.protocol import LabOptions
from tuiexplore.lab.receive_rules import UNKNOWN, ReceiveRules
from tuiexplore.lab.transport import AgentProcess, Transport
from tuiexplore.reports import pcapng
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.timeline import Event, PacketEvent, VerdictEvent


@dataclass
class RunResult:
    scenario: Scenario
    info: LabInfo | None = None
    events: list[Event] = field(default_factory=list)
    done: list[StepDone] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    drops: int = 0
    frames: int = 0
    # Each actor's sockets after the last step, and their owners' names: the explorer's sockets
    # panel in an exported screen (read before the lab, and its processes, end).
    sockets: dict[str, ActorInventory] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def run(
    scn: Scenario,
    on_event: Callable[[Event], None] | None = None,
    tracer: bool = True,
    pcap: str | list[str] | None = None,
    on_ready: Callable[[LabInfo], None] | None = None,
    unread_rule: str | None = None,
    transport: Callable[[LabOptions], Transport] | None = None,
    rules: ReceiveRules = UNKNOWN,
) -> RunResult:
    """``unread_rule``: from ``kernel.notes.running_unread_rule`` (the explorer uses the same).
    ``transport``: how to reach the agent (e.g. in a guest kernel); None is a local process."""
    result = RunResult(scn)

    def collect(e: Event) -> None:
        result.events.append(e)
        if on_event:
            on_event(e)

    with Lab(collect, transport=transport or AgentProcess) as lab:
        result.info = lab.start(
            scn.actors, scn.port, tracer, unread_rule=unread_rule, wire=scn.wire, sysctls=scn.sysctls, rules=rules
        )
        if on_ready:
            on_ready(result.info)
        for step in scn.steps:
            done = lab.step(step.index, step.actor, step.call, step.resolved(result.info.port))
            result.done.append(done)
        result.sockets = lab.inspect()
        result.names = process_names(result.sockets, guest=bool(result.info.where))
        stats = lab.stats()
        result.drops, result.frames = stats.drops, stats.frames
        if paths := [pcap] if isinstance(pcap, str) else pcap or []:
            pcapng.write(paths, lab.pcap(), result.events)  # one capture: every file has the same frames
    result.failures = check(scn, result)
    return result


def check(scn: Scenario, result: RunResult) -> list[str]:
    """Every way the run fell short of the file: steps not performed, disagreements, expectations."""
    failures = []
    events = result.events
    for d in result.done:
        if not d.ok:
            failures.append(f"step {d.step}: did not run as written ({d.message or d.outcome})")
    if result.drops:
        failures.append(f"the capture lost {result.drops} packets (kernel drop counter)")
    verdicts = [e for e in events if isinstance(e, VerdictEvent)]
    for v in verdicts:
        if not v.agree:
            failures.append(
                f"step {v.step}: {v.actor} {v.call}({v.fd}) predicted {v.predicted} ({v.branch}), observed {v.observed}"
            )
    version = kernel_version(result.info.kernel if result.info else None)
    for ex in (e for e in scn.expects if e.applies(version)):
        seen = [(p.src, p.flags) for p in events if isinstance(p, PacketEvent) and p.step == ex.step]
        if not _in_order(ex.packets, seen):
            want = ", ".join(" ".join(p) for p in ex.packets)
            got = ", ".join(" ".join(p) for p in seen) or "none"
            failures.append(f"step {ex.step}: expected packets [{want}] in this order, saw [{got}]")
        if ex.verdict is not None:
            observed = strongest(v.observed for v in verdicts if v.step == ex.step)
            if observed != ex.verdict:
                failures.append(f"step {ex.step}: expected verdict {ex.verdict}, observed {observed}")
    return failures


def strongest(outcomes: Iterable[str]) -> str:
    seen = set(outcomes)
    return next((o for o in ("RST", "FIN") if o in seen), "none")


def _in_order(want: list[tuple[str, str]], seen: list[tuple[str, str]]) -> bool:
    it = iter(seen)
    return all(any(w == s for s in it) for w in want)
