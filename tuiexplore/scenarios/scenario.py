"""Scenario files (TOML, contract version 1): loading, validation, the built-in catalog.

Every error names the file, the line and the field, on one line, so a user can fix it at once.
tomllib keeps no line numbers, so :class:`_Lines` finds them in the text.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeGuard

from tuiexplore.lab import sysctl
from tuiexplore.lab.calls import CALLS, LAB_CALLS, WIRE_CALLS, Arg, ArgError, check_value, complete_args, is_closing
from tuiexplore.safetext import quoted, terminal
from tuiexplore.scenarios import selector
from tuiexplore.scenarios.reader import MAX_DEPTH, ScenarioError, read_file, too_deep

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
_FLAGS = re.compile(r"^[FSRPUEW.]+$")
_TOP_KEYS = {"title", "summary", "port", "lab", "step", "expect"}
WIRES = ("loopback", "relay")  # the [lab] table's wire (tuiexplore/relay/topology.py)
_LAB_KEYS = {"wire", "sysctls"}

# Documented limits (docs/reference/calls.md, made from these); the file's size and nesting are bounded in reader.
MAX_STEPS = 1000
MAX_ACTORS = 16  # each actor is a process of its own (~13 MB RSS): 16 is more than any exchange needs
MAX_EXPECTS = MAX_STEPS
MAX_TITLE = 200  # characters: it has to fit a status line
MAX_TEXT = 8000  # characters of a summary or a step's narration


@dataclass(frozen=True)
class Step:
    index: int  # 1-based
    actor: str
    call: str
    args: dict[str, Any]
    say: str | None = None

    def resolved(self, port: int) -> dict[str, Any]:
        """The arguments as performed: the lab port filled in where the file left it out."""
        return complete_args(self.call, self.args, port)


@dataclass(frozen=True)
class Expect:
    step: int
    packets: list[tuple[str, str]] = field(default_factory=list)  # (actor, tcpdump flags)
    verdict: str | None = None
    kernel: selector.KernelRange | None = None  # checked only on the kernels it selects

    def applies(self, version: tuple[int, int, int]) -> bool:
        return self.kernel is None or self.kernel.selects(version)


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str
    title: str
    summary: str
    steps: list[Step]
    expects: list[Expect] = field(default_factory=list)
    port: int | None = None
    wire: str = "loopback"  # [lab] wire: "relay" joins the two ends through the agent
    sysctls: dict[str, int] = field(default_factory=dict)  # [lab] sysctls: the lab namespace's own (lab/sysctl.py)

    @property
    def actors(self) -> list[str]:
        """The processes the lab needs (a ``sleep`` names an actor but runs in the lab itself, a
        wire call names the direction the relay acts on)."""
        return list(dict.fromkeys(s.actor for s in self.steps if s.call not in LAB_CALLS and s.call not in WIRE_CALLS))


# -- the catalog ------------------------------------------------------------------------------
def _catalog() -> Any:
    return resources.files("tuiexplore.scenarios") / "catalog"


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in _catalog().iterdir() if p.name.endswith(".toml"))


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a TOML file by path."""
    if name_or_path in builtin_names() and not os.path.lexists(name_or_path):
        text = (_catalog() / f"{name_or_path}.toml").read_text(encoding="utf-8")
        return parse(text, f"{name_or_path}.toml", name_or_path)
    path = Path(name_or_path)
    return parse(read_file(name_or_path, builtin_names), str(path), path.stem)


# -- parsing and validation -------------------------------------------------------------------
class _Lines:
    """Where tables and keys sit in the TOML text (tomllib reports values, not positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.tables: dict[str, list[int]] = {}
        for i, line in enumerate(self.lines, 1):
            m = re.match(r"^\s*\[\[?\s*([A-Za-z_]+)\s*\]", line)  # [[step]], and [lab]
            if m:
                self.tables.setdefault(m[1], []).append(i)

    def of(self, table: str | None, index: int | None, key: str | None) -> int:
        start, end = 1, len(self.lines) + 1
        if table is not None and index is not None:
            heads = self.tables.get(table, [])
            if index < len(heads):
                start = heads[index]
                later = sorted(h for hs in self.tables.values() for h in hs if h > start)
                end = later[0] if later else end
        if key is not None:
            pat = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
            for i in range(start, min(end, len(self.lines) + 1)):
                if pat.match(self.lines[i - 1]):
                    return i
        return start


def parse(text: str, source: str, name: str = "") -> Scenario:
    """A scenario from TOML text; every way the text can be unusable is a :class:`ScenarioError`."""
    source = terminal(source)  # a file name is untrusted text in every message
    deep = too_deep(text)
    if deep:
        raise ScenarioError(f"{source}:{deep}: arrays or tables nested deeper than {MAX_DEPTH} levels")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        where = f"{source}:{m[1]}" if m else source
        detail = re.sub(r"\s*\(at line \d+, column \d+\)", f" (column {m[2]})" if m else "", msg)
        raise ScenarioError(f"{where}: TOML syntax error: {terminal(detail)}") from None
    except RecursionError:  # too_deep is a scan, not a parser: a form it misses still ends here
        raise ScenarioError(f"{source}: arrays or tables nested deeper than {MAX_DEPTH} levels") from None
    return _Validator(data, source, _Lines(text), name).scenario()


class _Validator:
    def __init__(self, data: dict[str, Any], source: str, lines: _Lines, name: str) -> None:
        self.data, self.source, self.lines, self.name = data, source, lines, name

    def fail(self, msg: str, table: str | None = None, index: int | None = None, key: str | None = None) -> NoReturn:
        line = self.lines.of(table, index, key)
        raise ScenarioError(f"{self.source}:{line}: {msg}")

    def scenario(self) -> Scenario:
        d = self.data
        for key in d:
            if key not in _TOP_KEYS:
                self.fail(
                    f"field {quoted(key)}: unknown top-level field (expected one of: {', '.join(sorted(_TOP_KEYS))})", key=key
                )
        title = d.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
            self.fail(f"field 'title': required, a non-empty string of at most {MAX_TITLE} characters", key="title")
        summary = d.get("summary", "")
        if not isinstance(summary, str) or len(summary) > MAX_TEXT:
            self.fail(f"field 'summary': must be a string of at most {MAX_TEXT} characters", key="summary")
        port = d.get("port")
        if port is not None and (not _is_int(port) or not 1 <= port <= 65535):
            self.fail("field 'port': must be an integer from 1 to 65535", key="port")
        wire, sysctls = self.lab(d.get("lab", {}))
        raw_steps = d.get("step")
        if not isinstance(raw_steps, list) or not raw_steps:
            self.fail("field 'step': at least one [[step]] table is required", key="step")
        if len(raw_steps) > MAX_STEPS:
            self.fail(f"field 'step': {len(raw_steps)} steps, at most {MAX_STEPS}", "step", MAX_STEPS)
        steps = self.steps(raw_steps, wire)
        expects = self.expects(d.get("expect", []), steps)
        return Scenario(self.name, self.source, title.strip(), summary.strip(), steps, expects, port, wire, sysctls)

    def lab(self, raw: Any) -> tuple[str, dict[str, int]]:
        """The [lab] table: how the lab is built for this file (contract v1 files have none)."""
        if not isinstance(raw, dict):
            self.fail("field 'lab': must be a table ([lab])", key="lab")
        for key in raw:
            if key not in _LAB_KEYS:
                self.fail(f"lab: field {quoted(key)}: unknown (expected one of: {', '.join(sorted(_LAB_KEYS))})", "lab", 0, key)
        wire = raw.get("wire", "loopback")
        if wire not in WIRES:
            self.fail(f"lab: field 'wire': must be one of {', '.join(WIRES)}, not {quoted(wire)}", "lab", 0, "wire")
        try:
            sysctls = sysctl.check(raw.get("sysctls", {}))
        except sysctl.SysctlError as exc:
            self.fail(f"lab: field 'sysctls': {exc}", "lab", 0, "sysctls")
        return wire, sysctls

    def steps(self, raw_steps: list[Any], wire: str) -> list[Step]:
        names: dict[str, dict[str, str]] = {}  # actor -> fd name -> "socket" | "epoll"
        exited: dict[str, int] = {}
        steps = []
        for i, raw in enumerate(raw_steps):
            where = f"step {i + 1}"
            if not isinstance(raw, dict):
                self.fail(f"{where}: must be a table ([[step]])", "step", i)
            actor = raw.get("actor")
            if not isinstance(actor, str) or not _NAME.fullmatch(actor):
                self.fail(f"{where}: field 'actor': required, a name like 'server' (letters, digits, _ . -)", "step", i, "actor")
            if actor in exited and raw.get("call") not in LAB_CALLS:  # sleep and wait are the lab waiting
                self.fail(f"{where}: field 'actor': '{actor}' already exited at step {exited[actor]}", "step", i, "actor")
            call_name = raw.get("call")
            if not isinstance(call_name, str) or call_name not in CALLS:
                what = "required" if call_name is None else f"unknown call {quoted(call_name)}"
                self.fail(f"{where}: field 'call': {what} (expected one of: {', '.join(CALLS)})", "step", i, "call")
            call = CALLS[call_name]
            if call_name in WIRE_CALLS and wire != "relay":
                self.fail(
                    f"step {i + 1}: field 'call': {call_name} needs the relay's wire ([lab] wire = \"relay\")", "step", i, "call"
                )
            if call_name not in LAB_CALLS and actor not in names and len(names) >= MAX_ACTORS:
                self.fail(f"{where}: field 'actor': a {MAX_ACTORS + 1}th actor; at most {MAX_ACTORS}", "step", i, "actor")
            where = f"step {i + 1} ({call_name})"
            allowed = {"actor", "call", "say"} | {a.name for a in call.args}
            for key in raw:
                if key not in allowed:
                    self.fail(
                        f"{where}: field {quoted(key)}: not an argument of {call_name} (allowed: {', '.join(sorted(allowed))})",
                        "step",
                        i,
                        key,
                    )
            say = raw.get("say")
            if say is not None and (not isinstance(say, str) or len(say) > MAX_TEXT):
                self.fail(f"{where}: field 'say': must be a string of at most {MAX_TEXT} characters", "step", i, "say")
            fds = names.setdefault(actor, {}) if call_name not in LAB_CALLS else {}
            args = {a.name: self.arg(a, raw, fds, where, i, call_name) for a in call.args}
            if call_name == "write":
                if (raw.get("data") is None) == (raw.get("size") is None):
                    self.fail(f"{where}: give exactly one of 'data' (a string) or 'size' (filler bytes)", "step", i, "data")
                args = {k: v for k, v in args.items() if v is not None}
            if call_name in ("socket", "accept"):
                fds[raw["as"]] = "socket"
            elif call_name == "epoll_create":
                fds[raw["as"]] = "epoll"
            elif call_name == "exit":
                exited[actor] = i + 1
            steps.append(Step(i + 1, actor, call_name, args, say))
        return steps

    def arg(self, a: Arg, raw: dict[str, Any], fds: dict[str, str], where: str, i: int, call: str) -> Any:
        fail = lambda msg: self.fail(f"{where}: field '{a.name}': {msg}", "step", i, a.name)  # noqa: E731
        if a.name not in raw:
            if a.required:
                fail("required")
            return a.default
        v = raw[a.name]
        if a.kind == "new":
            if not isinstance(v, str) or not _NAME.fullmatch(v):
                fail("must be a name like 'conn' (letters, digits, _ . -)")
        elif a.kind in ("fd", "ep"):
            if not isinstance(v, str):
                fail("must be the name given by an earlier 'as'")
            kind = fds.get(v)
            if kind is None:
                known = ", ".join(fds) or "none yet"
                fail(f"no fd named {quoted(v)} in this actor (names so far: {known})")
            if a.kind == "ep" and kind != "epoll":
                fail(f"{quoted(v)} is a socket, not an epoll instance")
            if a.kind == "fd" and kind == "epoll" and call != "close":
                fail(f"{quoted(v)} is an epoll instance, not a socket")
        else:
            try:  # the same check every manual step passes (complete_args): one set of limits
                check_value(a, v, raw.get("option"))
            except ArgError as exc:
                fail(str(exc))
        return v

    def expects(self, raw_expects: Any, steps: list[Step]) -> list[Expect]:
        if not isinstance(raw_expects, list):
            self.fail("field 'expect': must be [[expect]] tables", key="expect")
        if len(raw_expects) > MAX_EXPECTS:
            self.fail(f"field 'expect': {len(raw_expects)} expectations, at most {MAX_EXPECTS}", "expect", MAX_EXPECTS)
        actors = {s.actor for s in steps} | {"?"}
        out = []
        for i, raw in enumerate(raw_expects):
            where = f"expect {i + 1}"
            if not isinstance(raw, dict):
                self.fail(f"{where}: must be a table ([[expect]])", "expect", i)
            for key in raw:
                if key not in ("step", "packets", "verdict", "kernel"):
                    known = "step, packets, verdict, kernel"
                    self.fail(f"{where}: field {quoted(key)}: unknown (expected {known})", "expect", i, key)
            n = raw.get("step")
            if not _is_int(n) or not 1 <= n <= len(steps):
                self.fail(f"{where}: field 'step': required, a step number from 1 to {len(steps)}", "expect", i, "step")
            raw_packets = raw.get("packets", [])
            if not isinstance(raw_packets, list):
                self.fail(f"{where}: field 'packets': must be a list, e.g. [\"client R.\"]", "expect", i, "packets")
            packets = []
            for p in raw_packets:
                parts = p.split() if isinstance(p, str) else []
                if len(parts) != 2 or parts[0] not in actors or not _FLAGS.fullmatch(parts[1]):
                    self.fail(
                        f"{where}: field 'packets': {quoted(p)} must be \"<actor> <tcpdump flags>\" with an actor of this "
                        f"scenario or '?', e.g. \"client R.\"",
                        "expect",
                        i,
                        "packets",
                    )
                packets.append((parts[0], parts[1]))
            verdict = raw.get("verdict")
            if verdict is not None:
                if verdict not in ("FIN", "RST", "none"):
                    self.fail(f"{where}: field 'verdict': must be FIN, RST or none", "expect", i, "verdict")
                s = steps[n - 1]
                if not is_closing(s.call, s.args):
                    self.fail(
                        f"{where}: field 'verdict': step {n} ({s.call}) is not a closing call "
                        "(close, exit, shutdown, connect with AF_UNSPEC)",
                        "expect",
                        i,
                        "verdict",
                    )
            kernel = selector.parse(raw["kernel"]) if "kernel" in raw else None
            if "kernel" in raw and kernel is None:
                want = 'a version selector like ">=6.10" or "<6.10"'
                self.fail(f"{where}: field 'kernel': must be {want}", "expect", i, "kernel")
            out.append(Expect(n, packets, verdict, kernel))
        return out


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)
