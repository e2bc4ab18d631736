"""Sessions written as packetdrill scripts (``run --pkt``, the bundle's ``session.pkt``), read back
by the project's own reader: the same syscalls with the same results, the same segments in the
same order, on the kernel that wrote them.

``READ_BACK`` is how a written script is taken back, one test per entry and built-in: the
reader (what ``run FILE.pkt --dry-run`` does), returning the script's events for the checks
below, and the runner (``run FILE.pkt``: the script replayed on this kernel through a TUN device,
as root and as uid 65534), which must exit 0 with every line held before the same checks.
A session whose side is connected to itself has no remote end to replay (its segments are not
written): by that rule, not by name, its replay is checked to fail where the self-connection
began.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import cli, run_text
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pkt_run import NOBODY, UNPRIVILEGED

from tuiexplore import runner
from tuiexplore.lab.calls import WIRE_CALLS
from tuiexplore.packetdrill.command import check
from tuiexplore.packetdrill.parser import parse
from tuiexplore.packetdrill.script import Event as ScriptEvent
from tuiexplore.packetdrill.script import Int, Syscall, TcpPacket, TimeKind
from tuiexplore.packetdrill.writer import LATER, Origin, WriteError, script_side, write
from tuiexplore.reports.export import pkt_text
from tuiexplore.scenarios.scenario import builtin_names, load
from tuiexplore.timeline import Event, NoteEvent, PacketEvent, StepEvent, VerdictEvent


def dry_run(path: str) -> list[ScriptEvent]:
    """The script as ``run FILE.pkt --dry-run`` reads it; fails on any error or refused line."""
    checked = check(path, {})
    assert not checked.plan.refused, checked.plan.refused
    return checked.script.events


def replay(path: str, who: str) -> tuple[int, list[dict], str]:
    """``tuiexplore run FILE.pkt --json`` as ``who``: its exit status, events and stderr. As uid
    65534 the run has no real-time priority; the runner's own tests say why it gets a wider
    tolerance then (test_pkt_run.UNPRIVILEGED). As root the script's own --tolerance_usecs holds."""
    with tempfile.TemporaryDirectory(prefix="pkt-replay-") as d:
        os.chmod(d, 0o755)  # uid 65534 must read the script
        script = Path(d) / Path(path).name
        script.write_text(Path(path).read_text())
        script.chmod(0o644)
        args = [*NOBODY] if who == "nobody" else []
        args += [sys.executable, "-m", "tuiexplore", "run", str(script), "--json"]
        args += [UNPRIVILEGED] if who == "nobody" else []
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return r.returncode, [json.loads(line) for line in r.stdout.splitlines()], r.stderr


Verdict = tuple[str, str, str, str | None]  # call, predicted, branch, observed (None: not compared)


def replayed(who: str) -> Callable[[str], tuple[list[ScriptEvent], list[Verdict] | None]]:
    def read_back(path: str) -> tuple[list[ScriptEvent], list[Verdict] | None]:
        status, events, err = replay(path, who)
        failed = [e for e in events if e["type"] == "line" and e["ok"] is False]
        assert status == 0 and not failed, err + "\n" + Path(path).read_text()
        script = dry_run(path)
        assert sorted({e["line"] for e in events if e["type"] == "line"}) == [e.line for e in script]
        sources = {e["step"]: e["source"] for e in events if e["type"] == "line"}
        # A blocking call (start...end) is judged on what it sent before it returned, and when it
        # returns against the script's next lines is only fixed to the tolerance (a 1 s SO_LINGER
        # fires up to 32 ms late at HZ=250): its observation is not compared, its prediction is.
        verdicts = [
            (e["call"], e["predicted"], e["branch"], None if "..." in sources[e["step"]].split()[0] else e["observed"])
            for e in events
            if e["type"] == "verdict" and e["call"] != "inject"  # the closing calls' (injects have their own)
        ]
        return script, verdicts

    return read_back


def read_only(path: str) -> tuple[list[ScriptEvent], list[Verdict] | None]:
    return dry_run(path), None  # no run, no verdicts


RUNNERS = {"runner": "root", "runner-nobody": "nobody"} if os.geteuid() == 0 else {"runner": "user"}
READ_BACK: dict[str, Callable[[str], tuple[list[ScriptEvent], list[Verdict] | None]]] = {
    "reader": read_only,
    **{how: replayed(who) for how, who in RUNNERS.items()},
}


def check_verdicts(events: list[Event], side: str, replayed: list[Verdict]) -> None:
    """The replay's closing calls are predicted and judged as the session's were: the same kernel,
    the same socket state before each call (an exit is the close of each socket it held)."""
    closing = ("close", "shutdown", "connect", "exit")
    session = [v for v in events if isinstance(v, VerdictEvent) and v.actor == side and v.call in closing]
    calls = [("close" if v.call == "exit" else v.call, v.predicted, v.branch, v.observed) for v in session]
    assert [v[:3] for v in replayed] == [v[:3] for v in calls], (replayed, calls)
    assert all(got is None or got == want for (*_, got), (*_, want) in zip(replayed, calls, strict=True)), (replayed, calls)


def connected_to_itself(events: list[Event], side: str) -> bool:
    """The side has a connection between its own sockets: no remote end a script could be."""
    return any(isinstance(p, PacketEvent) and p.src == p.dst == side for p in events)


_NOTE = re.compile(r"^relay: (inject|drop|hold) #(\d+) ")


def _noted(events: list[Event], what: str) -> set[int]:
    return {int(m.group(2)) for e in events if isinstance(e, NoteEvent) and (m := _NOTE.match(e.text)) and m.group(1) == what}


def expected_calls(events: list[Event], side: str) -> list[tuple[str, int, str | None]]:
    """The side's syscalls as the session made them: name, return value, errno."""
    out: list[tuple[str, int, str | None]] = []
    open_fds = 0
    late = {
        int(m[1]): int(m[2])
        for e in events
        if isinstance(e, NoteEvent) and (m := re.match(r"step (\d+): .* returned (-?\d+) after", e.text))
    }
    for e in events:
        if isinstance(e, StepEvent) and e.result.get("blocked") and e.step in late:
            e = replace(e, ret=late[e.step])  # it came back in a later step
        if not isinstance(e, StepEvent) or e.actor != side or e.call in ("sleep", *WIRE_CALLS) or e.ret is None:
            continue
        if e.call == "exit":
            out += [("close", 0, None)] * open_fds
            open_fds = 0
            continue
        if e.call == "connect" and e.args.get("nonblocking") and e.args.get("family") != "AF_UNSPEC":
            out.append(("fcntl", 0, None))
        out.append((e.call, e.ret, e.errno))
        open_fds += e.call in ("socket", "accept", "epoll_create") and e.ret >= 0
        open_fds -= e.call == "close" and e.ret == 0
    return out


def _segment(flags: str, seq: int, ack: int | None, length: int) -> tuple[frozenset[str], int, int | None, int]:
    return frozenset(flags.replace("-", "")), seq, ack, length


def _captured(p: PacketEvent) -> tuple[frozenset[str], int, int | None, int]:
    return _segment(p.flags.replace("none", ""), p.seq, p.ack if "." in p.flags else None, p.len)


def _written(p: TcpPacket) -> tuple[frozenset[str], int, int | None, int]:
    return _segment(p.flags, p.start_seq, p.ack, p.payload)


def check_read_back(events: list[Event], side: str, script: list[ScriptEvent], text: str = "") -> None:
    """``text``: the script's text, for the margins it says it added after a silent timer."""
    calls = [(e.action.name, e.action.result, e.action.errno) for e in script if isinstance(e.action, Syscall)]
    want = expected_calls(events, side)
    assert [(n, r.value if isinstance(r, Int) else r, err) for n, r, err in calls] == want
    packets = [e.action for e in script if isinstance(e.action, TcpPacket)]
    mine = [p for p in events if isinstance(p, PacketEvent) and p.src != p.dst and side in (p.src, p.dst)]
    injected = _noted(events, "inject")
    sent = [_captured(p) for p in mine if p.src == side and p.index not in injected]
    assert [_written(p) for p in packets if not p.inbound] == sent
    received = [p for p in mine if p.dst == side]
    got = [_written(p) for p in packets if p.inbound]
    if not _noted(events, "drop") | _noted(events, "hold"):
        assert got == [_captured(p) for p in received]  # in the order they arrived
    else:  # the relay's wire: only what reached the side, each once
        withheld = _noted(events, "drop") | _noted(events, "hold")
        released = {n for e in events if isinstance(e, StepEvent) and e.call == "release" for n in e.result.get("released", [])}
        arrived = [_captured(p) for p in received if p.index not in withheld - released]
        assert sorted(got, key=repr) == sorted(arrived, key=repr)
    assert script[0].time.kind is TimeKind.ABSOLUTE and script[0].time.usecs == 0
    assert all(e.time.kind is TimeKind.RELATIVE for e in script[1:])
    # Times: each expected segment when the kernel sent it, from the side's first call, to the ms.
    clock, at = 0, []
    for e in script:
        clock += e.time.usecs
        at.append(clock)
    start = next(e.t for e in events if isinstance(e, StepEvent) and e.actor == side and e.ret is not None)
    expected = [round((p.t - start) * 1e6) for p in mine if p.src == side and p.index not in injected]
    later = [(n, int(m[1])) for n, line in enumerate(text.splitlines(), 1) if (m := re.match(rf"// {LATER} (\d+) ms", line))]
    written = [
        t - 1000 * sum(ms for n, ms in later if n < e.line)
        for t, e in zip(at, script, strict=True)
        if isinstance(e.action, TcpPacket) and not e.action.inbound
    ]
    assert all(abs(w - x) <= 1000 for w, x in zip(written, expected, strict=True)), list(zip(written, expected, strict=True))


@functools.cache  # each built-in's session once for every way of reading it back
def _session(name: str) -> runner.RunResult:
    result = runner.run(load(name))
    assert result.ok, result.failures
    return result


@pytest.mark.parametrize("how", READ_BACK)
@pytest.mark.parametrize("name", builtin_names())
def test_written_script_reads_back(name, how, tmp_path):
    result = _session(name)
    assert result.info is not None
    side = script_side(result.events)
    path = tmp_path / f"{name}.pkt"
    path.write_text(pkt_text(result.scenario, result.info, result.events))
    if how in RUNNERS and connected_to_itself(result.events, side):
        _replay_cannot_connect_to_itself(str(path), side, RUNNERS[how])
        return
    script, verdicts = READ_BACK[how](str(path))
    check_read_back(result.events, side, script, path.read_text())
    if verdicts is not None:
        check_verdicts(result.events, side, verdicts)
    text = path.read_text()
    assert f"Kernel {result.info.kernel} (uname -r {result.info.release})" in text and name in text.splitlines()[0]


def _replay_cannot_connect_to_itself(path: str, side: str, who: str) -> None:
    """The script says what it left out, and a replay stops at the connect() whose other end was
    the side's own listener: the replay's connect goes to the script's remote end, which never
    answers (no line injects a SYN-ACK for it)."""
    assert f"segments between {side}'s own sockets (a connection to itself has no remote end)" in Path(path).read_text()
    status, events, _ = replay(path, who)
    failed = [e for e in events if e["type"] == "line" and e["ok"] is False]
    assert status == 1 and [e["source"].split()[1][: len("connect(")] for e in failed] == ["connect("], failed


def test_the_side_is_the_first_closer_unless_chosen():
    result = _session("clean-close")  # the client closes first, then the server
    first = next(e for e in result.events if isinstance(e, VerdictEvent))
    assert script_side(result.events) == first.actor == "client"
    assert script_side(result.events, "server") == "server"
    with pytest.raises(WriteError, match="nobody: not an actor"):
        script_side(result.events, "nobody")
    origin = Origin("clean-close", "t", "6", "6")
    server = dry_run_text(write(result.events, origin, "server"))
    check_read_back(result.events, "server", server)
    assert [e.action.name for e in server if isinstance(e.action, Syscall)][-3:] == ["read", "read", "close"]


def dry_run_text(text: str) -> list[ScriptEvent]:
    return parse(text).events


def test_a_blocking_connect_waits_for_the_injected_syn_ack():
    """A replay's remote end is the script: a connect() that the SYN-ACK completes must be
    written as blocking (packetdrill's start...end), or the replay would wait on it for ever."""
    result = _session("seed-rst")
    script = dry_run_text(pkt_text(result.scenario, result.info, result.events))
    connect = next(e for e in script if isinstance(e.action, Syscall) and e.action.name == "connect")
    assert connect.action.end_usecs is not None and connect.action.end_usecs >= connect.time.usecs
    after = script[script.index(connect) + 1 : script.index(connect) + 3]
    assert [(p.action.inbound, p.action.flags) for p in after] == [(False, "S"), (True, "S.")]


def test_sysctls_become_a_backtick_line_the_reader_translates():
    result = _session("seed-rst")
    origin = Origin("seed-rst", "t", "6", "6")
    text = write(result.events, origin, sysctls={"net.ipv4.tcp_fin_timeout": "5", "net.ipv4.tcp_rmem": "4096 8192 16384"})
    from tuiexplore.packetdrill.shell import translate

    s = parse(text)
    assert s.init_command is not None
    plan = translate(s.init_command.text, s.init_line)
    assert [(x.name, x.value) for x in plan.settings] == [
        ("net.ipv4.tcp_fin_timeout", "5"),
        ("net.ipv4.tcp_rmem", "4096 8192 16384"),
    ]
    assert not plan.refused


def test_cli_writes_the_script_and_the_bundle_has_one(tmp_path):
    pkt, bundle = tmp_path / "s.pkt", tmp_path / "bundle"
    proc = cli("run", "linger-zero", "--pkt", str(pkt), "--pkt-side", "server", "--export", str(bundle))
    assert proc.returncode == 0, proc.stderr
    assert f"packetdrill script written to {pkt}" in proc.stdout
    assert "The socket calls are server's" in pkt.read_text()
    session = (bundle / "session.pkt").read_text()
    assert "The socket calls are client's" in session  # the bundle's: the closer's (linger-zero: the client)
    for path in (pkt, bundle / "session.pkt"):
        dry = cli("run", str(path), "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--pkt", "/nonexistent/dir/s.pkt"), "/nonexistent/dir/s.pkt"),
        (("--pkt", "DIR"), "DIR"),
        (("--pkt", "OUT", "--pkt-side", "nobody"), "--pkt-side nobody"),
        (("--pkt", ""), "--pkt"),
    ],
)
def test_cli_bad_pkt_output_is_one_line_before_the_run(tmp_path, args, named):
    args = tuple(str(tmp_path) if a == "DIR" else str(tmp_path / "s.pkt") if a == "OUT" else a for a in args)
    named = str(tmp_path) if named == "DIR" else named
    proc = cli("run", "seed-rst", *args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and named in proc.stderr, proc.stderr
    assert not (tmp_path / "s.pkt").exists()


# -- whatever a session holds, what is written parses ------------------------------------------
_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
_FLAGS = st.text(st.sampled_from("FSRP.UEW"), min_size=0, max_size=5).map(lambda f: f or "none")
_OPTION = st.one_of(
    st.sampled_from(["nop", "eol", "sackOK", "tfo  cookiereq", "md5 shared secret not supplied", "opt-99:abcd"]),
    st.integers(0, 65535).map(lambda n: f"mss {n}"),
    st.integers(0, 14).map(lambda n: f"wscale {n}"),
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).map(lambda t: f"TS val {t[0]} ecr {t[1]}"),
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).map(lambda t: f"sack 1 {{{t[0]}:{t[1]}}}"),
    st.text("0123456789abcdef", min_size=2, max_size=16).filter(lambda h: len(h) % 2 == 0).map(lambda h: f"tfo  cookie {h}"),
)
_CALLS = ["socket", "bind", "listen", "connect", "accept", "read", "write", "close", "shutdown", "setsockopt", "exit"]


@st.composite
def sessions(draw: st.DrawFn) -> list[Event]:
    actors = ["server", "client", draw(_TEXT.filter(lambda a: a not in ("server", "client")))]
    out: list[Event] = []
    t = 0.0
    for step in range(1, draw(st.integers(1, 12)) + 1):
        t += draw(st.floats(0, 2))
        actor = draw(st.sampled_from(actors))
        call = draw(st.sampled_from(_CALLS))
        args = {"fd": draw(_TEXT), "option": draw(st.sampled_from(["SO_LINGER", "SO_RCVBUF", "TCP_NODELAY"]))}
        args["value"] = [1, draw(st.integers(0, 5))] if args["option"] == "SO_LINGER" else draw(st.integers(0, 9))
        args["data"], args["nonblocking"] = draw(_TEXT), draw(st.booleans())
        ret, errno = draw(st.sampled_from([(0, None), (3, None), (-1, "ECONNRESET"), (None, None)]))
        result = {"message": draw(_TEXT), "fd": draw(_TEXT)}
        if draw(st.booleans()):
            result["blocked_s"] = draw(st.floats(0, 3))
        out.append(StepEvent(t, step, actor, call, args, ret, errno, result))
        for _ in range(draw(st.integers(0, 3))):
            t += draw(st.floats(0, 0.3))
            src, dst = draw(st.permutations(actors + ["?"]))[:2]
            seq, length = draw(st.integers(0, 2**31)), draw(st.integers(0, 65535))
            opts = ",".join(draw(st.lists(_OPTION, max_size=3)))  # a real header: at most 40 bytes
            out.append(
                PacketEvent(t, src, dst, 1, 2, draw(_FLAGS), seq, draw(st.integers(0, 2**32 - 1)), length,
                            draw(st.integers(0, 65535)), step, len(out), b"", opts)
            )  # fmt: skip
        if draw(st.booleans()):
            out.append(NoteEvent(t, "info", draw(st.sampled_from(["relay: drop #1 (client .)", "relay: hold #2 (x F.)"]))))
    return out


@settings(max_examples=300, deadline=None)
@given(sessions(), _TEXT, _TEXT, st.dictionaries(st.sampled_from(["net.ipv4.tcp_fin_timeout", "net.core.x"]), _TEXT))
def test_whatever_the_writer_writes_parses(events, title, side_pick, sysctls):
    origin = Origin(title, title, title, title, title, title)
    try:
        text = write(events, origin, None, sysctls)
    except WriteError as e:
        assert "no script to write" in str(e) and "\n" not in str(e)
        return
    script = parse(text)
    side = script_side(events)
    written = [e for e in script.events if isinstance(e.action, Syscall)]
    made = [e for e in events if isinstance(e, StepEvent) and e.actor == side and e.ret is not None]
    assert len(written) >= len([e for e in made if e.call != "exit"])  # nothing a title or name says becomes a line


def test_a_held_segment_is_injected_when_the_relay_released_it():
    """crossing-fins from the server's side: the client's FIN, held by the relay until step 10,
    reaches the server after its own close, and that is where the script injects it."""
    result = _session("crossing-fins")
    script = dry_run_text(write(result.events, Origin("crossing-fins", "t", "6", "6"), "server"))
    check_read_back(result.events, "server", script)
    order = [
        (e.action.name if isinstance(e.action, Syscall) else f"{'<>'[not e.action.inbound]} {e.action.flags}") for e in script
    ]
    assert order.index("< F.") > order.index("close") > order.index("accept")
    assert order[-3:] == ["< .", "< F.", "> ."]  # the server's FIN ACKed, then the released FIN, ACKed


LATE_READ = """
title = "a read that returns in a later step"
summary = "The client read() blocks past its step until the server writes: a replay must let it wait for the injected data."
[[step]]
actor = "server"
call = "socket"
as = "listener"
[[step]]
actor = "server"
call = "bind"
fd = "listener"
[[step]]
actor = "server"
call = "listen"
fd = "listener"
[[step]]
actor = "client"
call = "socket"
as = "sock"
[[step]]
actor = "client"
call = "connect"
fd = "sock"
[[step]]
actor = "server"
call = "accept"
fd = "listener"
as = "conn"
[[step]]
actor = "client"
call = "read"
fd = "sock"
[[step]]
actor = "server"
call = "write"
fd = "conn"
data = "hello"
[[step]]
actor = "client"
call = "close"
fd = "sock"
"""


def test_a_call_that_returned_in_a_later_step_is_written_blocking():
    result = run_text(LATE_READ, "late-read")
    assert result.ok, result.failures
    script = dry_run_text(write(result.events, Origin("late-read", "t", "6", "6"), "client"))
    check_read_back(result.events, "client", script)
    i = next(i for i, e in enumerate(script) if isinstance(e.action, Syscall) and e.action.name == "read")
    read, data = script[i], script[i + 1]
    assert read.action.result == Int(5, "5") and read.action.end_usecs is not None
    assert isinstance(data.action, TcpPacket) and (data.action.inbound, data.action.flags, data.action.payload) == (True, "P.", 5)
    assert read.action.end_usecs >= data.time.usecs  # it returns once the injected data is in
