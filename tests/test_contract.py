"""Every rule of the contracts (shared/README.md), checked through `tuiexplore run --json`.

One file uses every call and every argument of the scenario format and expectations that hold;
variants of it break one rule each. The stream is read as a consumer would: JSON Lines only.
"""

import json
import re

import pytest
from conftest import IS_ROOT, cli, step, steps

from tuiexplore.lab.predict import BRANCHES

OPT = lambda actor, fd, opt, v: step(actor, "setsockopt", fd=fd, option=opt, value=v)  # noqa: E731
PORT = 45678
FLAGS = {"S", "S.", ".", "P.", "F.", "FP.", "R.", "R"}
STATES = {"ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT"}
STATES |= {"LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}
COUNTER = re.compile(r"^(Tcp|TcpExt|Ip|IpExt)\.[A-Za-z0-9]+$")

EVERY_CALL = [
    step("server", "socket", as_="l"),
    OPT("server", "l", "SO_REUSEADDR", 1),
    OPT("server", "l", "SO_RCVBUF", 65536),
    step("server", "bind", fd="l"),  # 4: the file's own port
    step("server", "listen", fd="l", backlog=8),
    step("server", "epoll_create", as_="ep"),
    step("server", "epoll_ctl", ep="ep", op="ADD", fd="l", events=["EPOLLIN"]),
    step("client", "socket", as_="c"),
    OPT("client", "c", "SO_SNDBUF", 65536),  # 9
    OPT("client", "c", "TCP_NODELAY", 1),
    OPT("client", "c", "SO_KEEPALIVE", 1),
    OPT("client", "c", "TCP_KEEPIDLE", 30),
    OPT("client", "c", "TCP_KEEPINTVL", 5),
    OPT("client", "c", "TCP_KEEPCNT", 3),
    OPT("client", "c", "TCP_LINGER2", 10),
    step("client", "connect", fd="c", nonblocking=False),  # 16
    step("server", "epoll_wait", ep="ep", timeout_ms=500, maxevents=4),  # 17: the listener is readable
    step("server", "accept", fd="l", as_="s"),
    step("server", "epoll_ctl", ep="ep", op="MOD", fd="l", events=["EPOLLIN", "EPOLLET"]),
    step("server", "epoll_ctl", ep="ep", op="ADD", fd="s", events=["EPOLLIN", "EPOLLRDHUP"]),
    step("client", "write", fd="c", data="hi"),  # 21
    step("server", "read", fd="s", size=2),
    step("client", "read", fd="c"),  # 23: blocks; a note says when it returns
    step("server", "write", fd="s", size=3),  # 24
    step("client", "shutdown", fd="c", how="SHUT_WR"),  # 25: FIN
    step("server", "epoll_wait", ep="ep", timeout_ms=500),  # 26: s IN|RDHUP
    step("server", "epoll_ctl", ep="ep", op="DEL", fd="s"),
    step("server", "read", fd="s"),  # 28: EOF
    step("b", "socket", as_="c"),
    OPT("b", "c", "SO_LINGER", [1, 0]),
    step("b", "connect", fd="c", nonblocking=True),  # 31
    step("b", "sleep", ms=50),
    step("b", "connect", fd="c", family="AF_UNSPEC"),  # 33: RST from b's child-less end
    step("server", "close", fd="s"),  # 34: CLOSE_WAIT -> LAST_ACK: FIN
    step("client", "close", fd="c"),  # 35: nothing new
    step("client", "exit"),  # 36
    step("client", "sleep", ms=20),  # 37: sleep names an exited actor: the lab waits
    step("server", "close", fd="ep"),
    step("server", "exit"),  # 39: the listener's only child was reset: nothing
]
EXPECTS = """
[[expect]]
step = 16
packets = ["client S", "server S.", "client ."]

[[expect]]
step = 25
packets = ["client F."]
verdict = "FIN"

[[expect]]
step = 33
packets = ["b R."]
verdict = "RST"

[[expect]]
step = 34
packets = ["server F.", "client ."]
verdict = "FIN"

[[expect]]
step = 39
verdict = "none"
"""


def every_call_file(extra: str = "") -> str:
    head = f'title = "every call"\nsummary = "The contract, call by call."\nport = {PORT}\n'
    return head + steps(*EVERY_CALL).split("\n", 1)[1] + EXPECTS + extra


def run_json(scenario_file, text: str):
    proc = cli("run", scenario_file(text), "--json")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc, events


@pytest.fixture(scope="module")
def every_call(tmp_path_factory):
    path = tmp_path_factory.mktemp("contract") / "every.toml"
    path.write_text(every_call_file())
    proc = cli("run", str(path), "--json")
    return proc, [json.loads(line) for line in proc.stdout.splitlines()]


def test_every_call_runs_and_exits_0(every_call):
    proc, events = every_call
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    stepped = [e for e in events if e["type"] == "step"]
    assert [e["step"] for e in stepped] == list(range(1, len(EVERY_CALL) + 1))
    assert {e["call"] for e in stepped} == {
        "socket", "setsockopt", "bind", "listen", "connect", "accept", "epoll_create", "epoll_ctl",
        "epoll_wait", "read", "write", "shutdown", "close", "exit", "sleep",
    }  # fmt: skip


def test_every_event_has_type_t_and_order(every_call):
    _, events = every_call
    assert {e["type"] for e in events} >= {"step", "epoll", "packet", "state", "verdict", "counters", "note"}
    assert all(isinstance(e["t"], (int, float)) and e["t"] >= 0 for e in events)
    ts = [e["t"] for e in events]
    assert ts == sorted(ts)
    for e in events:
        if e["type"] in ("step", "epoll", "verdict", "counters"):
            assert isinstance(e["step"], int) and 1 <= e["step"] <= len(EVERY_CALL), e


def test_step_events(every_call):
    _, events = every_call
    by_step = {e["step"]: e for e in events if e["type"] == "step"}
    for e in by_step.values():
        assert e.keys() >= {"step", "actor", "call", "args", "ret", "errno", "result"}
        assert e["errno"] is None or re.fullmatch(r"E[A-Z]+", e["errno"])
        assert isinstance(e["result"], dict)
    assert by_step[1]["result"] == {"fd": "l"}  # the new fd's name
    assert by_step[4]["args"]["port"] == PORT  # the file's port is the lab port
    assert by_step[5]["args"]["backlog"] == 8
    assert by_step[22]["result"]["bytes"] == 2 and by_step[22]["result"]["data"] == "hi"
    assert by_step[23]["ret"] is None and by_step[23]["result"] == {"blocked": True}
    assert by_step[24]["ret"] == 3
    assert by_step[28]["ret"] == 0  # EOF after the client's FIN
    assert by_step[31]["errno"] in (None, "EINPROGRESS")
    assert by_step[37]["actor"] == "client" and by_step[37]["ret"] == 0


def test_epoll_events(every_call):
    _, events = every_call
    ep = [e for e in events if e["type"] == "epoll"]
    for e in ep:
        assert e.keys() >= {"step", "actor", "fd", "events", "mask"}
        assert int(e["mask"], 16) and re.fullmatch(r"[0-9a-f]+", e["mask"])
    assert [(e["step"], e["fd"], e["events"]) for e in ep if e["step"] == 17] == [(17, "l", ["EPOLLIN"])]
    assert [(e["fd"], e["mask"]) for e in ep if e["step"] == 26] == [("s", "2001")]


def test_packet_events(every_call):
    _, events = every_call
    pk = [e for e in events if e["type"] == "packet"]
    for p in pk:
        assert p.keys() >= {"from", "to", "sport", "dport", "flags", "seq", "ack", "len", "win"}
        assert p["flags"] in FLAGS and p["from"] in ("server", "client", "b", "?")
    syn = next(p for p in pk if p["flags"] == "S")
    assert (syn["from"], syn["to"], syn["dport"], syn["seq"]) == ("client", "server", PORT, 0)
    data = next(p for p in pk if p["flags"] == "P." and p["from"] == "client")
    assert (data["seq"], data["len"]) == (1, 2)  # relative, as tcpdump prints them


def test_state_events(every_call):
    _, events = every_call
    st = [e for e in events if e["type"] == "state"]
    assert st
    for e in st:
        assert e.keys() >= {"actor", "fd", "old", "new", "source"}
        assert e["old"] in STATES and e["new"] in STATES and e["source"] in ("tracepoint", "tcp_info")
    if IS_ROOT:
        assert any(e["source"] == "tracepoint" for e in st)
    assert ("client", "c", "ESTABLISHED", "FIN_WAIT1") in {(e["actor"], e["fd"], e["old"], e["new"]) for e in st}


def test_verdict_and_counters_events(every_call):
    _, events = every_call
    verdicts = [e for e in events if e["type"] == "verdict"]
    for v in verdicts:
        assert v.keys() >= {"step", "actor", "fd", "call", "predicted", "observed", "branch", "rst_reason", "counters", "agree"}
        assert v["predicted"] in ("FIN", "RST", "none") and v["observed"] in ("FIN", "RST", "none")
        assert v["branch"] in BRANCHES and v["agree"] is True
        assert isinstance(v["advice"], str) and v["advice"]  # added to the contract: what to change
        assert all(isinstance(n, int) and n for n in v["counters"].values())
    by = {(v["step"], v["fd"]): v for v in verdicts}
    assert (by[(33, "c")]["call"], by[(33, "c")]["observed"], by[(33, "c")]["branch"]) == ("connect", "RST", "disconnect")
    if IS_ROOT:
        assert by[(33, "c")]["rst_reason"] == "TCP_STATE"
    assert by[(39, "l")]["observed"] == "none"
    for c in (e for e in events if e["type"] == "counters"):
        assert c["deltas"] and all(COUNTER.match(k) and v for k, v in c["deltas"].items())
    rst = next(c for c in events if c["type"] == "counters" and c["step"] == 33)
    assert rst["deltas"]["Tcp.OutRsts"] >= 1


def test_note_events(every_call):
    _, events = every_call
    notes = [e for e in events if e["type"] == "note"]
    assert all(n["level"] in ("info", "warn", "error") and isinstance(n["text"], str) for n in notes)
    late = [n for n in notes if n.get("step") == 23]
    assert late and "read() returned" in late[0]["text"]  # the blocked read, when the data came


def test_an_expectation_that_fails_exits_1(scenario_file):
    proc, events = run_json(scenario_file, every_call_file('\n[[expect]]\nstep = 35\npackets = ["client R."]\n'))
    assert proc.returncode == 1
    assert events and all("type" in e for e in events)  # the stream is still the whole run


def test_a_wrong_verdict_expectation_exits_1(scenario_file):
    text = steps(step("a", "socket", as_="c"), step("a", "close", fd="c"), '[[expect]]\nstep = 2\nverdict = "FIN"\n')
    proc, events = run_json(scenario_file, text)
    assert proc.returncode == 1
    v = next(e for e in events if e["type"] == "verdict")
    assert (v["observed"], v["branch"], v["agree"]) == ("none", "already_closed", True)


def test_a_step_that_cannot_run_exits_1(scenario_file):
    # A second call while the first still blocks in the kernel did not run as written.
    text = steps(step("a", "socket", as_="c"), step("a", "socket", as_="l"), step("a", "bind", fd="l"))
    text += steps(step("a", "listen", fd="l"), step("a", "accept", fd="l", as_="s"), step("a", "close", fd="c")).split("\n", 1)[1]
    proc, events = run_json(scenario_file, text)
    assert proc.returncode == 1
    last = [e for e in events if e["type"] == "step"][-1]
    assert last["ret"] is None and "still blocked" in last["result"]["message"]


def test_unusable_input_exits_2_with_one_line(scenario_file):
    text = steps(step("a", "socket", as_="c"), step("a", "close", fd="d"))
    path = scenario_file(text)
    proc = cli("run", path, "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and f"{path}:" in proc.stderr and "'fd'" in proc.stderr
