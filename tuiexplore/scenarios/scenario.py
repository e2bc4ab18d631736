"""Scenario files (TOML, contract version 1): loading, validation, the built-in catalog.

Every error names the file, the line and the field, on one line, so a user can fix it at once.
tomllib keeps no line numbers, so :class:`_Lines` finds them in the text.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tuiexplore.lab.calls import CALLS, EPOLL_BITS, SOCKOPTS, Arg, complete_args, is_closing
from tuiexplore.scenarios import selector

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
_FLAGS = re.compile(r"^[FSRPUEW.]+$")
_TOP_KEYS = {"title", "summary", "port", "step", "expect"}
_LIMITS = {
    "port": (1, 65535),
    "backlog": (0, 65535),
    "size": (1, 16 * 1024 * 1024),
    "timeout_ms": (-1, 60_000),
    "maxevents": (1, 1024),
    "ms": (0, 60_000),
}
_INT_OPTS_LIMITS = {"SO_RCVBUF": (1, 1 << 30), "SO_SNDBUF": (1, 1 << 30), "TCP_LINGER2": (-1, 1 << 20)}


class ScenarioError(Exception):
    """Unusable scenario input; str() is the one-line message for the user."""


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

    @property
    def actors(self) -> list[str]:
        """The processes the lab needs (a ``sleep`` names an actor but runs in the lab itself)."""
        return list(dict.fromkeys(s.actor for s in self.steps if s.call != "sleep"))


# -- the catalog ------------------------------------------------------------------------------
def _catalog() -> Any:
    return resources.files("tuiexplore.scenarios") / "catalog"


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in _catalog().iterdir() if p.name.endswith(".toml"))


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a TOML file by path."""
    path = Path(name_or_path)
    if name_or_path in builtin_names() and not path.exists():
        text = (_catalog() / f"{name_or_path}.toml").read_text(encoding="utf-8")
        return parse(text, f"{name_or_path}.toml", name_or_path)
    if not path.exists():
        known = ", ".join(builtin_names())
        raise ScenarioError(f"{name_or_path}: no such file or built-in scenario (built-ins: {known})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{name_or_path}: cannot read it ({exc})") from exc
    return parse(text, str(path), path.stem)


# -- parsing and validation -------------------------------------------------------------------
class _Lines:
    """Where tables and keys sit in the TOML text (tomllib reports values, not positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.tables: dict[str, list[int]] = {}
        for i, line in enumerate(self.lines, 1):
            m = re.match(r"^\s*\[\[\s*([A-Za-z_]+)\s*\]\]", line)
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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        where = f"{source}:{m[1]}" if m else source
        detail = re.sub(r"\s*\(at line \d+, column \d+\)", f" (column {m[2]})" if m else "", msg)
        raise ScenarioError(f"{where}: TOML syntax error: {detail}") from None
    return _Validator(data, source, _Lines(text), name).scenario()


class _Validator:
    def __init__(self, data: dict[str, Any], source: str, lines: _Lines, name: str) -> None:
        self.data, self.source, self.lines, self.name = data, source, lines, name

    def fail(self, msg: str, table: str | None = None, index: int | None = None, key: str | None = None) -> None:
        line = self.lines.of(table, index, key)
        raise ScenarioError(f"{self.source}:{line}: {msg}")

    def scenario(self) -> Scenario:
        d = self.data
        for key in d:
            if key not in _TOP_KEYS:
                self.fail(f"field '{key}': unknown top-level field (expected one of: {', '.join(sorted(_TOP_KEYS))})", key=key)
        if not isinstance(d.get("title"), str) or not d["title"].strip():
            self.fail("field 'title': required, a non-empty string", key="title")
        summary = d.get("summary", "")
        if not isinstance(summary, str):
            self.fail("field 'summary': must be a string", key="summary")
        port = d.get("port")
        if port is not None and (not _is_int(port) or not 1 <= port <= 65535):
            self.fail("field 'port': must be an integer from 1 to 65535", key="port")
        raw_steps = d.get("step")
        if not isinstance(raw_steps, list) or not raw_steps:
            self.fail("field 'step': at least one [[step]] table is required", key="step")
        steps = self.steps(raw_steps)
        expects = self.expects(d.get("expect", []), steps)
        return Scenario(self.name, self.source, d["title"].strip(), summary.strip(), steps, expects, port)

    def steps(self, raw_steps: list[Any]) -> list[Step]:
        names: dict[str, dict[str, str]] = {}  # actor -> fd name -> "socket" | "epoll"
        exited: dict[str, int] = {}
        steps = []
        for i, raw in enumerate(raw_steps):
            where = f"step {i + 1}"
            if not isinstance(raw, dict):
                self.fail(f"{where}: must be a table ([[step]])", "step", i)
            actor = raw.get("actor")
            if not isinstance(actor, str) or not _NAME.match(actor):
                self.fail(f"{where}: field 'actor': required, a name like 'server' (letters, digits, _ . -)", "step", i, "actor")
            if actor in exited and raw.get("call") != "sleep":  # sleep is the lab waiting, not the actor
                self.fail(f"{where}: field 'actor': '{actor}' already exited at step {exited[actor]}", "step", i, "actor")
            call_name = raw.get("call")
            if call_name not in CALLS:
                self.fail(
                    f"{where}: field 'call': unknown call {call_name!r} (expected one of: {', '.join(CALLS)})", "step", i, "call"
                )
            call = CALLS[call_name]
            where = f"step {i + 1} ({call_name})"
            allowed = {"actor", "call", "say"} | {a.name for a in call.args}
            for key in raw:
                if key not in allowed:
                    self.fail(
                        f"{where}: field '{key}': not an argument of {call_name} (allowed: {', '.join(sorted(allowed))})",
                        "step",
                        i,
                        key,
                    )
            say = raw.get("say")
            if say is not None and not isinstance(say, str):
                self.fail(f"{where}: field 'say': must be a string", "step", i, "say")
            fds = names.setdefault(actor, {})
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
            if not isinstance(v, str) or not _NAME.match(v):
                fail("must be a name like 'conn' (letters, digits, _ . -)")
        elif a.kind in ("fd", "ep"):
            if not isinstance(v, str):
                fail("must be the name given by an earlier 'as'")
            kind = fds.get(v)
            if kind is None:
                known = ", ".join(fds) or "none yet"
                fail(f"no fd named {v!r} in this actor (names so far: {known})")
            if a.kind == "ep" and kind != "epoll":
                fail(f"{v!r} is a socket, not an epoll instance")
            if a.kind == "fd" and kind == "epoll" and call != "close":
                fail(f"{v!r} is an epoll instance, not a socket")
        elif a.kind == "int":
            if not _is_int(v):
                fail(f"must be an integer, not {type(v).__name__}")
            lo, hi = _LIMITS.get(a.name, (-(1 << 31), (1 << 31) - 1))
            if not lo <= v <= hi:
                fail(f"must be from {lo} to {hi}")
        elif a.kind == "str":
            if not isinstance(v, str):
                fail(f"must be a string, not {type(v).__name__}")
        elif a.kind == "bool":
            if not isinstance(v, bool):
                fail("must be true or false")
        elif a.kind == "choice":
            if v not in a.choices:
                fail(f"unknown value {v!r} (expected one of: {', '.join(a.choices)})")
        elif a.kind == "names":
            if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
                fail('must be a list of event names, e.g. ["EPOLLIN", "EPOLLRDHUP"]')
            bad = [x for x in v if x not in EPOLL_BITS]
            if bad:
                fail(f"unknown event {bad[0]!r} (known: {', '.join(EPOLL_BITS)})")
        elif a.kind == "sockval":
            option = raw.get("option")
            if option == "SO_LINGER":
                if not (isinstance(v, list) and len(v) == 2 and all(_is_int(x) for x in v)) or v[1] < 0:
                    fail("SO_LINGER takes [onoff, seconds], e.g. [1, 0]")
            elif option in SOCKOPTS:
                if not _is_int(v):
                    fail(f"{option} takes an integer")
                lo, hi = _INT_OPTS_LIMITS.get(option, (0, 1 << 30))
                if not lo <= v <= hi:
                    fail(f"{option} must be from {lo} to {hi}")
        return v

    def expects(self, raw_expects: Any, steps: list[Step]) -> list[Expect]:
        if not isinstance(raw_expects, list):
            self.fail("field 'expect': must be [[expect]] tables", key="expect")
        actors = {s.actor for s in steps} | {"?"}
        out = []
        for i, raw in enumerate(raw_expects):
            where = f"expect {i + 1}"
            if not isinstance(raw, dict):
                self.fail(f"{where}: must be a table ([[expect]])", "expect", i)
            for key in raw:
                if key not in ("step", "packets", "verdict", "kernel"):
                    self.fail(f"{where}: field '{key}': unknown (expected step, packets, verdict, kernel)", "expect", i, key)
            n = raw.get("step")
            if not _is_int(n) or not 1 <= n <= len(steps):
                self.fail(f"{where}: field 'step': required, a step number from 1 to {len(steps)}", "expect", i, "step")
            packets = []
            for p in raw.get("packets", []):
                parts = p.split() if isinstance(p, str) else []
                if len(parts) != 2 or parts[0] not in actors or not _FLAGS.match(parts[1]):
                    self.fail(
                        f"{where}: field 'packets': {p!r} must be \"<actor> <tcpdump flags>\" with an actor of this "
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


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
