"""The seed's question, answered by the kernel: the contract's JSON stream of `run seed-rst`."""

import json

from conftest import IS_ROOT, cli


def test_seed_rst_json_stream():
    proc = cli("run", "seed-rst", "--json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    for e in events:
        assert {"type", "t"} <= e.keys()
    close_step = next(e["step"] for e in events if e["type"] == "step" and e["call"] == "close")
    packets = [e for e in events if e["type"] == "packet" and e.get("step") == close_step]
    assert [(p["from"], p["flags"]) for p in packets] == [("client", "R.")]
    verdict = next(e for e in events if e["type"] == "verdict")
    assert verdict["predicted"] == verdict["observed"] == "RST"
    assert verdict["branch"] == "data_was_unread"
    assert verdict["agree"] is True
    assert verdict["counters"]["TcpExt.TCPAbortOnClose"] == 1
    if IS_ROOT:
        assert verdict["rst_reason"] == "TCP_ABORT_ON_CLOSE"
    counters = next(e for e in events if e["type"] == "counters" and e["step"] == close_step)
    assert counters["deltas"]["TcpExt.TCPAbortOnClose"] == 1
    last_epoll = [e for e in events if e["type"] == "epoll"][-1]
    assert last_epoll["mask"] == "201d"
    assert set(last_epoll["events"]) == {"EPOLLIN", "EPOLLOUT", "EPOLLERR", "EPOLLHUP", "EPOLLRDHUP"}
    # timeline order
    ts = [e["t"] for e in events]
    assert ts == sorted(ts)


def test_seed_handshake_relative_numbers():
    proc = cli("run", "seed-rst", "--json")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    pk = [e for e in events if e["type"] == "packet"]
    assert [p["flags"] for p in pk[:3]] == ["S", "S.", "."]
    assert pk[0]["seq"] == 0 and pk[1]["ack"] == 1 and pk[2]["ack"] == 1
    data = next(p for p in pk if p["flags"] == "P.")
    assert (data["from"], data["to"], data["seq"], data["len"]) == ("server", "client", 1, 1)
