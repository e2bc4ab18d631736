"""tuiexplore step: real programs stepped under ptrace, real sockets, real packets.

Each run is ``step --auto --json --lab``: the programs and the capture share a fresh private
network namespace, so fixed ports never collide and every packet seen is the test's own.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import PROGS, ROOT, cli

PORT = "47031"


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]  # every stdout line is one JSON event


def step(*argv: str, lab: bool = True) -> tuple[int, list[dict], str]:
    r = cli("step", "--auto", "--json", *(["--lab"] if lab else []), *argv, timeout=60)
    return r.returncode, events(r.stdout), r.stderr


def of(evs: list[dict], kind: str, **match) -> list[dict]:
    return [e for e in evs if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


def output(evs: list[dict], actor: str) -> list[str]:
    return [e["text"] for e in of(evs, "output", actor=actor)]


def peer(data: str = "") -> list[str]:
    return ["--server", "--", sys.executable, str(PROGS / "peer.py"), PORT, *([data] if data else [])]


def client_argv(kind: str, c_client: str, mode: str) -> list[str]:
    if kind == "c":
        return [c_client, PORT, mode]
    return [sys.executable, str(PROGS / "client_modes.py"), PORT, mode]


@pytest.mark.parametrize("kind", ["c", "python"])
@pytest.mark.parametrize(
    ("mode", "data", "outcome", "branch", "flags", "seen"),
    [
        ("clean", "", "FIN", "fin", "F.", "peer: EOF"),
        ("linger0", "", "RST", "linger_zero", "R.", "peer: RST"),
        ("unread", "hello", "RST", "data_was_unread", "R.", "peer: RST"),
    ],
)
def test_client_close_variants(kind, mode, data, outcome, branch, flags, seen, c_client):
    rc, evs, err = step(*peer(data), "--client", "--", *client_argv(kind, c_client, mode))
    assert rc == 0, err
    connect = of(evs, "stop", actor="client", call="connect")
    assert connect and connect[0]["args"]["addr"] == {"family": "AF_INET", "ip": "127.0.0.1", "port": int(PORT)}
    [ret] = [e for e in of(evs, "step", actor="client", call="connect")]
    assert ret["ret"] == 0 and ret["step"] == connect[0]["step"]
    if mode == "linger0":
        [opt] = of(evs, "stop", actor="client", call="setsockopt")
        assert opt["args"]["option"] == "SO_LINGER" and opt["args"]["value"] == {"onoff": 1, "linger": 0}
    [close] = [e for e in of(evs, "stop", actor="client", call="close") if e["prediction"]]
    [pred] = close["prediction"]
    assert (pred["outcome"], pred["branch"]) == (outcome, branch)
    assert close["socket"]["state"] == "ESTABLISHED" and close["socket"]["remote"] == f"127.0.0.1:{PORT}"
    if mode == "unread":
        assert "5 bytes unread" in pred["text"]
    [v] = of(evs, "verdict", actor="client", step=close["step"])
    assert v["agree"] and v["observed"] == outcome and v["branch"] == branch
    client_flags = [p["flags"] for p in evs if p["type"] == "packet" and p["from"] == "client"]
    assert flags in client_flags, client_flags
    assert client_flags[0] == "S"
    assert seen in output(evs, "server")
    assert f"client {mode} done" in output(evs, "client")
    assert of(evs, "counters", step=close["step"]), "the lab's counters must show the close"


def test_forked_child_holds_the_socket(c_client):
    rc, evs, err = step(*peer(), "--client", "--", c_client, PORT, "fork")
    assert rc == 0, err
    closes = [e for e in of(evs, "stop", actor="client", call="close") if e["prediction"]]
    [parent_close] = closes
    [pred] = parent_close["prediction"]
    assert pred["branch"] == "still_referenced" and pred["outcome"] == "none"
    [holder] = pred["holders"]
    child = holder["pid"]
    assert child != parent_close["pid"] and holder["fd"] == 3 and f"pid {child}" in pred["text"]
    [v1] = of(evs, "verdict", step=parent_close["step"])
    assert v1["agree"] and v1["observed"] == "none"
    [child_exit] = of(evs, "stop", call="exit_group", pid=child)
    [p2] = child_exit["prediction"]
    assert p2["outcome"] == "FIN" and p2["holders"] == []
    [v2] = of(evs, "verdict", step=child_exit["step"])
    assert v2["agree"] and v2["observed"] == "FIN"
    fin = [e for e in evs if e["type"] == "packet" and e["from"] == "client" and "F" in e["flags"]]
    assert fin and all(e["step"] == child_exit["step"] for e in fin)
    assert "peer: EOF" in output(evs, "server") and "parent done" in output(evs, "client")


def test_seed_programs_reproduce_the_rst(seed):
    rc, evs, err = step("--server", "--", str(seed / "server"), PORT, "--once", "--client", "--", str(seed / "client"), PORT)
    assert rc == 0, err
    packets = [(e["from"], e["flags"], e["len"]) for e in evs if e["type"] == "packet"]
    write = packets.index(("server", "P.", 1))
    assert ("client", "R.", 0) in packets[write:], packets
    assert packets[:3] == [("client", "S", 0), ("server", "S.", 0), ("client", ".", 0)]
    [close] = [e for e in of(evs, "stop", actor="client", call="close")]
    assert close["prediction"][0]["branch"] == "data_was_unread" and "1 byte unread" in close["prediction"][0]["text"]
    [v] = of(evs, "verdict", actor="client")
    assert v["agree"] and (v["predicted"], v["observed"], v["branch"]) == ("RST", "RST", "data_was_unread")
    assert "ready, events: 201d" in output(evs, "server")
    assert any(e["mask"] == "201d" for e in of(evs, "epoll", actor="server"))
    assert of(evs, "counters", step=close["step"])[0]["deltas"].get("TcpExt.TCPAbortOnClose") == 1


def test_untraceable_programs_get_one_line(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a program")
    r = cli("step", "--auto", "--json", "--", str(text))
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "not executable" in r.stderr
    fake32 = tmp_path / "old32"
    fake32.write_bytes(b"\x7fELF\x01\x01\x01" + b"\0" * 9 + b"\x02\x00\x03\x00" + b"\0" * 40)
    fake32.chmod(0o755)
    r = cli("step", "--auto", "--", str(fake32))
    assert r.returncode == 2 and "32-bit (i386)" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(
        ["strace", "-f", "-o", "/dev/null", sys.executable, "-m", "tuiexplore", "step", "--auto", "--", "/bin/true"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 2 and "another tracer" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_threads_ipv6_and_output_escaping():
    rc, evs, err = step("--", sys.executable, str(PROGS / "thread_v6.py"))
    assert rc == 0, err
    [connect] = of(evs, "stop", call="connect")
    assert connect["tid"] != connect["pid"], "the connecting thread is named by its own tid"
    assert connect["args"]["addr"]["family"] == "AF_INET6" and connect["args"]["addr"]["ip"] == "::1"
    [accept] = of(evs, "stop", call="accept4")
    assert accept["tid"] == accept["pid"] and accept["socket"]["state"] == "LISTEN"
    assert not of(evs, "stop", call="exit"), "a thread's exit closes nothing: no stop"
    # ::1 is captured too: the handshake and the close's FIN, and a verdict that held
    packets = of(evs, "packet")
    assert [p["flags"] for p in packets[:3]] == ["S", "S.", "."], packets
    fins = [p for p in packets if "F" in p["flags"]]
    assert fins and {fins[0]["from"], fins[0]["to"]} == {"client"}, fins
    verdicts = of(evs, "verdict", call="close")
    assert verdicts and all(v["agree"] for v in verdicts), verdicts
    assert any(v["observed"] == "FIN" for v in verdicts), verdicts
    assert output(evs, "client") == ["\\x1b[31mred"]


def test_shutdown_and_disconnect():
    rc, evs, err = step("--", sys.executable, str(PROGS / "shutdown_disconnect.py"))
    assert rc == 0, err
    verdicts = {(v["call"], v["branch"]): v for v in of(evs, "verdict")}
    assert verdicts[("shutdown", "shutdown_fin")]["observed"] == "FIN"
    disconnect = verdicts[("connect", "disconnect")]
    assert disconnect["predicted"] == disconnect["observed"] == "RST"
    [stop] = [e for e in of(evs, "stop", call="connect") if e["prediction"]]
    assert stop["args"]["addr"] == {"family": "AF_UNSPEC"} and stop["socket"]["state"] == "CLOSE_WAIT"
    assert all(v["agree"] for v in verdicts.values())
