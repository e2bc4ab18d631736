"""Watch mode against real processes: six teardown kinds at once in a private network namespace,
watched live (tracepoints and owners as root) and read back from the pcap written with -w."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time

import pytest
from conftest import IS_ROOT, ROOT, cli

from tuiexplore.watch import bpf
from tuiexplore.watch.classify import classify
from tuiexplore.watch.packet import parse_ip
from tuiexplore.watch.sources import PcapSource
from tuiexplore.watch.tracker import MAX_CLOSED, Tracker

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="live capture and namespaces need root (CI runs as root)")

EXPECT = {  # scenario: (end, cause, summary)
    "clean": ("FIN/FIN", "fin", "FIN/FIN, client first"),
    "unread": ("RST", "data_was_unread", "RST by client: unread data"),
    "linger0": ("RST", "linger_zero", "RST by client: SO_LINGER 0"),
    "refused": ("refused", "refused", "refused"),
    "after_close": ("FIN then RST", "data_after_close", "RST reply to data after close"),
    "half_close": ("FIN/FIN", "shutdown_fin", "FIN/FIN, client first (half-close)"),
    "unread6": ("RST", "data_was_unread", "RST by client: unread data"),
}
REASONS = {
    "unread": "TCP_ABORT_ON_CLOSE",
    "unread6": "TCP_ABORT_ON_CLOSE",
    "linger0": "TCP_STATE",
    "refused": "NO_SOCKET",
    "after_close": "TCP_TIMEWAIT_SOCKET",
}


def world(tmp_path, *extra: str) -> dict:
    res = subprocess.run(
        ["unshare", "-n", sys.executable, str(ROOT / "tests" / "watch_world.py"), str(tmp_path), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return {**json.loads(res.stdout), "pcap": tmp_path / "world.pcap"}


def by_port(records: list[dict]) -> dict[int, dict]:
    conns = [r for r in records if r["type"] == "connection"]
    out = {int(r["server"].rsplit(":", 1)[1]): r for r in conns}
    assert len(out) == len(conns), "one connection per server port"
    return out


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    return world(tmp_path_factory.mktemp("traced"))


def test_each_teardown_live_with_tracepoints(traced):
    assert "tracepoints on" in traced["first"]
    live = by_port(traced["live"])
    assert set(live) == set(traced["ports"].values()), "the unwatched port 5050 stays out; every watched one is in"
    for name, (end, cause, summary) in EXPECT.items():
        r = live[traced["ports"][name]]
        assert (r["end"], r["cause"], r["summary"]) == (end, cause, summary), (name, r)
        assert r["evidence"] == "tracepoint", (name, r)
        assert r["rst_reason"] == REASONS.get(name), (name, r)
        pids = traced["pids"][name]
        assert r["client_pid"] == pids["client"], (name, r)
        assert r["server_pid"] == pids["server"], (name, r)
        assert r["closed_first_by"] == (r["server"] if name == "refused" else r["client"])
        assert r["advice"] and "\n" not in r["advice"], (name, r)
    assert "data the peer sent were never read" in live[traced["ports"]["unread"]]["advice"]
    assert "start the server first" in live[traced["ports"]["refused"]]["advice"]
    assert "SO_LINGER {1, 0}" in live[traced["ports"]["linger0"]]["advice"]
    assert live[traced["ports"]["unread"]]["bytes"] == {"client_to_server": 0, "server_to_client": 7}
    assert live[traced["ports"]["unread6"]]["client"].startswith("[::1]:")
    summary = traced["live"][-1]
    assert summary["type"] == "summary" and summary["drops"] == 0 and summary["connections"] == len(EXPECT)


def test_the_written_pcap_gives_the_same_answers_minus_owners(traced):
    assert traced["read_rc"] == 0, traced["read_err"]
    live, back = by_port(traced["live"]), by_port(traced["read"])
    assert set(back) == set(live)
    # tcpdump reads the -w file too (raw IP): one line per packet, as many as watch counted
    assert len(traced["tcpdump_r"].splitlines()) == traced["live"][-1]["packets"]
    for port, r in back.items():
        same = ("client", "server", "end", "cause", "closed_first_by", "rst_by", "bytes", "packets")
        assert {k: r[k] for k in same} == {k: live[port][k] for k in same}
        assert r["evidence"] == "wire" and r["client_pid"] is None and r["server_pid"] is None
        # the kernel's reason told the two resets apart; the wire alone says it cannot
        from tuiexplore.watch.classify import WIRE_SUMMARY as WIRE

        assert r["summary"] == (f"RST by client: {WIRE[r['cause']]}" if r["cause"] in WIRE else live[port]["summary"])


def test_wire_only_live_capture_agrees(tmp_path):
    d = world(tmp_path, "--no-trace")
    assert "no tracepoints" in d["first"]
    live = by_port(d["live"])
    for name, (end, cause, _) in EXPECT.items():
        r = live[d["ports"][name]]
        assert (r["end"], r["cause"], r["evidence"], r["rst_reason"]) == (end, cause, "wire", None), (name, r)
        if name != "refused":  # owners from psutil's scan: a refused connect() is over in microseconds
            assert (r["client_pid"], r["server_pid"]) == (d["pids"][name]["client"], d["pids"][name]["server"]), name


def test_pid_filter_follows_the_process_ports(tmp_path):
    d = world(tmp_path, "--pid-mode")
    conns = [r for r in d["records"] if r["type"] == "connection"]
    assert sorted(r["server"] for r in conns) == ["127.0.0.1:5201", "127.0.0.1:5203"]
    assert all(r["server_pid"] == d["pid"] for r in conns)


def test_a_lab_tracing_at_the_same_time_lends_watch_nothing(tmp_path):
    d = world(tmp_path, "--lab-mode")
    assert d["lab_rc"] == 0, d["lab_err"]
    lab_states = [e for e in d["lab"] if e["type"] == "state" and e["source"] == "tracepoint"]
    assert lab_states, "the lab's own tracepoints ran alongside watch's"
    assert "tracepoints on" in d["first"]
    (conn,) = [r for r in d["records"] if r["type"] == "connection"]
    assert (conn["end"], conn["cause"], conn["evidence"]) == ("FIN/FIN", "fin", "tracepoint"), conn
    assert (conn["client_pid"], conn["server_pid"]) == (d["pids"]["client"], d["pids"]["server"]), conn


def test_a_threaded_server_is_one_owner_live(tmp_path):
    """close() in a worker thread: its tracepoint names the thread; both rows name the process."""
    d = world(tmp_path, "--thread-mode")
    assert "tracepoints on" in d["first"]
    conns = [r for r in d["records"] if r["type"] == "connection"]
    assert len(conns) == 2
    for r in conns:
        assert (r["end"], r["closed_first_by"], r["evidence"]) == ("FIN/FIN", r["server"], "tracepoint"), r
        assert (r["server_pid"], r["client_pid"]) == (d["pid"], d["client"]), r


def _connect_line(task: str, mono: float, port: int) -> str:
    """A connect()'s CLOSE -> SYN_SENT as trace_pipe prints it: before its source port is chosen."""
    return (
        f"  {task}  [001] ..... {mono:.6f}: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=0 "
        f"dport={port} saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 "
        "oldstate=TCP_CLOSE newstate=TCP_SYN_SENT"
    )


@pytest.mark.parametrize("task", ["ours", "another namespace's", "another namespace's, exited", "pid reused since"])
def test_a_connect_lends_its_task_only_when_it_is_ours_still(task):
    """The line is read late, as on a busy box: by then a lab's actor may have exited, and its pid
    may name a newer process here (pid_max is 32768 by default)."""
    from tuiexplore.watch.engine import WatchTracer
    from tuiexplore.watch.owners import Owners, trace_endpoints

    tracer = WatchTracer("/nonexistent", [5301], None)
    before = time.monotonic()
    time.sleep(0.05)  # more than a clock tick, the unit of a process's start time
    if task == "ours":
        proc = None
    elif task == "pid reused since":
        proc = subprocess.Popen(["sleep", "30"])
    else:
        proc = subprocess.Popen(["unshare", "-n", "sleep", "0" if task.endswith("exited") else "30"])
    pid = proc.pid if proc else os.getpid()
    if task == "another namespace's":
        # unshare takes its new namespace some time after Popen returns: 50 ms was not always
        # enough under load (50.4 ms in 1 of 200 starts with two spinning loads)
        end = time.monotonic() + 10
        while os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            assert time.monotonic() < end, "unshare never switched namespace"
            time.sleep(0.001)
    then = before if task == "pid reused since" else time.monotonic()
    if task.endswith("exited"):
        proc.wait()
    try:
        ev = tracer.parse(_connect_line(f"python-{pid}", then, 5301))
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
    if task == "another namespace's":
        assert ev is None
        return
    t = Tracker(classify, on_kernel=Owners().kernel_event)
    t.add_kernel(ev, *trace_endpoints(ev))
    conn = t.add(_pkt(ev.ts + 0.001, ("127.0.0.1", 40000), ("127.0.0.1", 5301), 0x02))
    assert conn.kernel == [ev], "the connect() is this SYN's either way"
    assert conn.sides[0].pid == (pid if task == "ours" else None)


def _close_line(task: str, mono: float, sport: int, dport: int) -> str:
    """A close()'s ESTABLISHED -> FIN_WAIT1, run in the task that called it."""
    return (
        f"  {task}  [001] ..... {mono:.6f}: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport={sport} "
        f"dport={dport} saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 "
        "oldstate=TCP_ESTABLISHED newstate=TCP_FIN_WAIT1"
    )


def test_a_threaded_server_is_named_by_its_process_not_the_thread():
    """trace_pipe names the thread that ran the syscall; the owner is its process (the tgid), as
    psutil names the listener, so one server is one owner on every row."""
    import threading

    from tuiexplore.watch.engine import WatchTracer
    from tuiexplore.watch.owners import Owners, trace_endpoints

    tracer = WatchTracer("/nonexistent", [], None)
    tid, done = [], threading.Event()
    worker = threading.Thread(target=lambda: (tid.append(threading.get_native_id()), done.wait(30)))
    worker.start()
    try:
        while not tid:
            time.sleep(0.01)
        assert tid[0] != os.getpid()
        ev = tracer.parse(_close_line(f"python3-{tid[0]}", time.monotonic(), 5301, 40000))
    finally:
        done.set()
        worker.join()
    t = Tracker(classify, on_kernel=Owners().kernel_event)
    t.add(_pkt(ev.ts - 0.5, ("127.0.0.1", 40000), ("127.0.0.1", 5301), 0x02))
    t.add_kernel(ev, *trace_endpoints(ev))
    (conn,) = t.open.values()
    assert conn.sides[1].pid == os.getpid()


def test_a_connection_is_reported_once_the_tracer_has_read_past_its_close():
    """On a busy box the tracer's thread can be kept waiting while packets are handled: the reset's
    reason must still be in the report, however long ago the close was."""
    from tuiexplore.lab.tracepoints import TraceEvent
    from tuiexplore.watch.engine import SETTLE_TRACED, Options, Watch, WatchTracer

    finals = []
    w = Watch(Options(), on_final=finals.append)
    w.tracer, w.settle = WatchTracer("/nonexistent", [], None), SETTLE_TRACED
    read_up_to = time.time() - 5  # the tracer's thread has read nothing since
    w.tracer.read_up_to = lambda: read_up_to
    c, s = ("127.0.0.1", 40000), ("127.0.0.1", 5003)
    closed = time.time() - 2
    for src, dst, bits, payload in (
        (c, s, 0x02, 0),
        (s, c, 0x12, 0),
        (c, s, 0x10, 0),
        (c, s, 0x18, 3),
        (s, c, 0x10, 0),
        (c, s, 0x14, 0),
    ):
        w.tracker.add(_pkt(closed, src, dst, bits, payload=payload))
    w.housekeep()
    assert finals == [], "reported before the tracer read past the close"
    fields = {"src": "127.0.0.1:40000", "dest": "127.0.0.1:5003", "state": "TCP_ESTABLISHED", "reason": "TCP_STATE"}
    w.tracer.events.put(TraceEvent(closed, "tcp_send_reset", 40000, 5003, fields, f"python-{os.getpid()}"))
    read_up_to = time.time()
    w.housekeep()
    assert [(f.end.cause, f.end.evidence, f.end.rst_reason) for f in finals] == [("linger_zero", "tracepoint", "TCP_STATE")]


REUSE = """
import json, subprocess
from tuiexplore.watch.owners import Owners
from tuiexplore.watch.tracker import Conn

owners, names = Owners(), []
for i, cmd in enumerate((["sleep", "30"], ["cat"])):
    if i:  # the next process gets the first one's pid, as once the numbers wrap
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(proc.pid - 1))
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    conn = Conn(i, ("127.0.0.1", 40000 + i), ("127.0.0.1", 80), True, 0.0, 0.0)
    owners.own(conn, 0, proc.pid)
    names.append((proc.pid, conn.sides[0].process))
    proc.kill()
    proc.wait()
print(json.dumps(names))
"""


def test_a_reused_pid_is_named_as_the_process_it_is_now():
    """In a pid namespace of its own (so nothing else takes the pid), with its /proc."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        ["unshare", "-p", "-f", "--mount-proc", sys.executable, "-c", REUSE], capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode == 0, res.stderr
    (pid, first), (again, second) = json.loads(res.stdout)
    assert again == pid and (first, second) == ("sleep", "cat")


def test_pcap_on_stdin(traced, tmp_path):
    with open(traced["pcap"], "rb") as f:
        res = cli("watch", "--json", "-r", "-", stdin=f)
    assert res.returncode == 0, res.stderr
    got = {p: (r["end"], r["cause"]) for p, r in by_port([json.loads(x) for x in res.stdout.splitlines()]).items()}
    assert got == {p: (r["end"], r["cause"]) for p, r in by_port(traced["read"]).items()}


def test_count_stops_after_n_connections(traced):
    res = cli("watch", "--json", "--count", "2", "-r", str(traced["pcap"]))
    kinds = [json.loads(x)["type"] for x in res.stdout.splitlines()]
    assert res.returncode == 0 and kinds.count("connection") >= 2 and kinds[-1] == "summary"
    assert json.loads(res.stdout.splitlines()[-1])["connections"] < len(EXPECT)


def test_ethernet_pcap_reads_like_raw_ip(traced, tmp_path):
    src = traced["pcap"]
    eth = tmp_path / "eth.pcap"
    raw = PcapSource(str(src))
    with open(eth, "wb") as out:
        out.write(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, data in (x for batch in raw.batches() for x in batch if x[1] is not None):
            frame = b"\x00" * 12 + (b"\x86\xdd" if data[0] >> 4 == 6 else b"\x08\x00") + data
            out.write(struct.pack("=IIII", int(ts), int(ts % 1 * 1e6), len(frame), len(frame)) + frame)
    res = cli("watch", "--json", "-r", str(eth))
    got = {p: (r["end"], r["cause"]) for p, r in by_port([json.loads(x) for x in res.stdout.splitlines()]).items()}
    assert got == {p: (r["end"], r["cause"]) for p, r in by_port(traced["read"]).items()}


def test_live_capture_without_cap_net_raw_says_what_to_run():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", sys.executable, "-m", "tuiexplore", "watch", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "CAP_NET_RAW" in lines[0] and "watch -r -" in lines[0], res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["-f", "tcp port"], "bad -f expression"),
        (["-r", "/nonexistent.pcap"], "/nonexistent.pcap: cannot open it"),
        (["-r", __file__], "not a pcap"),
        (["-i", "nosuchif0"], "no interface 'nosuchif0'"),
        (["--host", "example.org"], "--host needs an IP address"),
    ],
)
def test_bad_input_is_one_line(args, words):
    res = cli("watch", "--json", *args)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and words in res.stderr, res.stderr


def _v4(sport, dport, src="10.0.0.1", dst="10.0.0.2", frag=0):
    tcp = struct.pack("!HHIIHHHH", sport, dport, 1, 0, (5 << 12) | 0x02, 1000, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, frag, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return ip + tcp


def _v6(sport, dport, src="::1", dst="2001:db8::2"):
    tcp = struct.pack("!HHIIHHHH", sport, dport, 1, 0, (5 << 12) | 0x02, 1000, 0, 0)
    ip = struct.pack(
        "!IHBB16s16s", 6 << 28, 20, 6, 64, socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    )
    return ip + tcp


def test_kernel_filter_programs():
    prog = bpf.build(bpf.Spec(ports=[80, 443], exclude_pair=(50000, 22), lo_ifindex=1))
    assert bpf.run(prog, _v4(1234, 80)) and bpf.run(prog, _v4(443, 999)) and bpf.run(prog, _v6(80, 5))
    assert not bpf.run(prog, _v4(1234, 81)) and not bpf.run(prog, _v6(1, 2))
    assert not bpf.run(prog, _v4(1234, 80, frag=0x0010)), "a later fragment has no ports"
    assert not bpf.run(prog, _v4(1234, 80), pkttype=4, ifindex=1), "lo's transmit copy"
    assert bpf.run(prog, _v4(1234, 80), pkttype=4, ifindex=2), "another interface's only copy"
    ssh = bpf.build(bpf.Spec(exclude_pair=(50000, 22)))
    assert not bpf.run(ssh, _v4(50000, 22)) and not bpf.run(ssh, _v4(22, 50000)) and bpf.run(ssh, _v4(50001, 22))
    host = bpf.build(bpf.Spec(host="2001:db8::2"))
    assert bpf.run(host, _v6(1, 2)) and not bpf.run(host, _v6(1, 2, dst="2001:db8::3")) and not bpf.run(host, _v4(1, 2))
    host4 = bpf.build(bpf.Spec(host="10.0.0.2"))
    assert bpf.run(host4, _v4(1, 2)) and not bpf.run(host4, _v4(1, 2, src="10.0.0.3", dst="10.0.0.4"))


def test_a_tcpdump_expression_runs_after_our_blocks():
    user = bpf.compile_user("tcp dst port 80")
    prog = bpf.build(bpf.Spec(user=user, exclude_pair=(50000, 80)))
    assert bpf.run(prog, _v4(1234, 80)) and bpf.run(prog, _v6(1234, 80))
    assert not bpf.run(prog, _v4(80, 1234)) and not bpf.run(prog, _v4(50000, 80))


def _raw(src, dst, bits, seq=1, ack=1, payload=0) -> bytes:
    (sa, sp), (da, dp) = src, dst
    tcp = struct.pack("!HHIIHHHH", sp, dp, seq, ack, (5 << 12) | bits, 1000, 0, 0) + b"x" * payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, socket.inet_aton(sa), socket.inet_aton(da))
    return ip + tcp


def _pkt(ts, src, dst, bits, seq=1, ack=1, payload=0):
    return parse_ip(ts, _raw(src, dst, bits, seq, ack, payload))


def test_memory_is_bounded_and_aged_connections_counted():
    t = Tracker(classify)
    n = MAX_CLOSED + 500
    for i in range(n):
        c, s = ("10.0.0.1", 10000 + i % 50000), ("10.0.0.2", 80)
        t.add(_pkt(i, c, s, 0x02))
        t.add(_pkt(i, s, c, 0x12))
        for _ in range(100):  # more packets than a connection's ring keeps
            t.add(_pkt(i, c, s, 0x18, payload=10))
        t.add(_pkt(i, s, c, 0x14))
        t.finalize(t.lookup(c, s))
    assert len(t.closed) == MAX_CLOSED and t.aged_out == 500 and t.finished == n
    assert all(len(conn.ring) <= conn.ring.maxlen for conn in t.closed.values())
    assert len(t.overall) == t.overall.maxlen
    last = next(reversed(t.closed.values()))
    assert last.packets == 103 and last.end.cause == "data_was_unread" and last.end.evidence == "wire"


def test_watch_package_imports_no_ui():
    from test_layering import PKG, imports

    offenders = {f.name: imports(f) & {"textual", "rich"} for f in (PKG / "watch").glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert not any("tuiexplore.tui" in f.read_text() for f in (PKG / "watch").glob("*.py"))


def test_unanswered_syn_times_out_and_open_ones_are_reported_at_the_end():
    finals = []
    t = Tracker(classify, on_final=finals.append)
    c, s = ("10.0.0.1", 40000), ("10.0.0.9", 443)
    t.add(_pkt(100.0, c, s, 0x02))
    t.add(_pkt(101.0, c, s, 0x02))  # a retransmitted SYN, same connection
    t.tick(103.5, 0.0)
    assert finals == []
    t.tick(104.1, 0.0)
    assert [(f.end.kind, f.end.cause, f.packets) for f in finals] == [("timeout", "syn_timeout", 2)]
    c2 = ("10.0.0.1", 40001)
    t.add(_pkt(105.0, c2, s, 0x02))
    t.add(_pkt(105.0, s, c2, 0x12))
    t.add(_pkt(105.0, c2, s, 0x11))
    t.finish_all()
    assert (finals[-1].end.kind, finals[-1].end.summary, finals[-1].end.closed_first_by) == (
        "open",
        "open (client sent FIN)",
        "10.0.0.1:40001",
    )


def test_our_own_ssh_session_is_read_from_the_environment(monkeypatch):
    from tuiexplore.watch.engine import ssh_pair

    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.7 50122 192.0.2.1 22")
    assert ssh_pair() == (50122, 22)
    monkeypatch.setenv("SSH_CONNECTION", "garbage")
    assert ssh_pair() is None


def _conn_of(packets: list[tuple]) -> object:
    t = Tracker(classify)
    for ts, src, dst, bits, payload in packets:
        conn = t.add(_pkt(ts, src, dst, bits, payload=payload))
    return conn.end


C, S = ("10.0.0.1", 40000), ("10.0.0.2", 8080)
HANDSHAKE = [(1.0, C, S, 0x02, 0), (1.0, S, C, 0x12, 0), (1.0, C, S, 0x10, 0)]


def test_wire_only_says_when_it_cannot_tell_unread_data_from_so_linger_0():
    """Without the kernel's reason, an active [R.] with the peer's byte outstanding is close() with
    it unread, or SO_LINGER 0 after reading it: the row says both, and what settles it."""
    end = _conn_of([*HANDSHAKE, (1.1, S, C, 0x18, 1), (1.1, C, S, 0x10, 0), (1.2, C, S, 0x14, 0)])
    assert (end.kind, end.cause, end.evidence) == ("RST", "data_was_unread", "wire")
    assert end.summary == "RST by client: unread data, or SO_LINGER 0 after reading"
    assert "the wire cannot tell; run as root for the kernel's reason" in end.explanation
    end = _conn_of([*HANDSHAKE, (1.1, C, S, 0x18, 3), (1.1, S, C, 0x10, 0), (1.2, C, S, 0x14, 0)])
    assert (end.cause, end.evidence) == ("linger_zero", "wire")
    assert end.summary == "RST by client: SO_LINGER 0, or older unread data"
    assert "the wire cannot tell" in end.explanation


@pytest.mark.parametrize("bits", [0x04, 0x14], ids=["[R]", "[R.]"])
def test_a_lone_rst_is_named_by_what_the_wire_shows_only(bits):
    """An RST and nothing before it (the capture joined late): no branch can be read off the wire."""
    end = _conn_of([(5.0, C, S, bits, 0)])
    assert (end.kind, end.cause, end.evidence, end.rst_by) == ("RST", "reset", "wire", "10.0.0.1:40000")
    assert "SO_LINGER" not in end.summary and "unread" not in end.summary
    assert end.summary == "RST by client: the wire shows no cause"
    end = _conn_of([(5.0, S, C, bits, 0)])  # from the server's end: no SYN was seen, so not "refused"
    assert (end.cause, end.summary) == ("reset", "RST by server: the wire shows no cause")


def test_an_rst_without_ack_is_not_a_close_of_linux():
    """Linux's active resets (tcp_send_active_reset) always carry ACK: a [R] with a window is not one."""
    end = _conn_of([*HANDSHAKE, (1.1, S, C, 0x18, 1), (1.2, C, S, 0x04, 0)])
    assert (end.cause, end.evidence) == ("reset", "wire")
    assert "SO_LINGER" not in end.summary


def test_a_late_rst_after_fin_fin_is_the_rst_by(tmp_path):
    """Both FINs ACKed, then the peer resets (as some stacks do after a graceful close): the
    connection ended FIN/FIN, and rst_by names the first RST, as the manual defines it."""
    from tuiexplore.watch.sources import PcapWriter

    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 8080)
    segments = [  # (time, src, dst, bits, seq, ack): relative seqs, each side's ISN 0
        (1.0, c, s, 0x02, 0, 0),
        (1.0, s, c, 0x12, 0, 1),
        (1.0, c, s, 0x10, 1, 1),
        (1.1, c, s, 0x11, 1, 1),  # client FIN
        (1.1, s, c, 0x10, 1, 2),
        (1.2, s, c, 0x11, 1, 2),  # server FIN
        (1.2, c, s, 0x10, 2, 2),  # both ACKed: FIN/FIN
        (1.25, s, c, 0x04, 2, 0),  # the server's late [R]
    ]
    pcap = tmp_path / "late.pcap"
    w = PcapWriter(str(pcap))
    for ts, src, dst, bits, seq, ack in segments:
        w.write(ts, _raw(src, dst, bits, seq, ack))
    w.close()
    res = cli("watch", "--json", "-r", str(pcap))
    assert res.returncode == 0, res.stderr
    (conn,) = [r for r in map(json.loads, res.stdout.splitlines()) if r["type"] == "connection"]
    assert (conn["end"], conn["cause"], conn["rst_by"]) == ("FIN/FIN", "fin", "10.0.0.2:8080"), conn
    assert conn["closed_first_by"] == "10.0.0.1:40000"
    assert conn["summary"] == "FIN/FIN, client first; then RST by server"
    # read from a pipe nothing is held (a read waits for the next packet): the row still learns it
    t = Tracker(classify)
    t.late_rst_s = 0.0
    for i, (ts, src, dst, bits, seq, ack) in enumerate(segments):
        conn_ = t.add(_pkt(ts, src, dst, bits, seq, ack))
        t.tick(ts, 0.0)
        assert conn_.final == (i >= 6), i  # reported at the last ACK
    assert (conn_.end.kind, conn_.end.rst_by) == ("FIN/FIN", "10.0.0.2:8080")
