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
    # Timeline order. Times cannot go back (the agent stamps a late event no earlier than the
    # last one, see test_a_late_event_is_stamped_no_earlier), so check causal order instead:
    # steps in their order, and everything a step caused between its step event and the next.
    at = {e["step"]: i for i, e in enumerate(events) if e["type"] == "step"}
    assert list(at) == list(range(1, len(at) + 1))
    caused = [(i, e) for i, e in enumerate(events) if e["type"] in ("packet", "epoll", "verdict", "counters") and "step" in e]
    assert caused
    for i, e in caused:
        assert at[e["step"]] < i < at.get(e["step"] + 1, len(events)), (i, e)


def test_a_late_event_is_stamped_no_earlier(capsys):
    from tuiexplore.lab.agent import Agent
    from tuiexplore.lab.protocol import LabOptions
    from tuiexplore.timeline import NoteEvent, from_wire

    agent = Agent(LabOptions())
    for t in (1.0, 0.5, 2.0):
        agent.out.emit(NoteEvent(t, "info", "x"))
    out = [from_wire(json.loads(line)).t for line in capsys.readouterr().out.splitlines()]
    assert out == [1.0, 1.0, 2.0]


def test_seed_handshake_relative_numbers():
    proc = cli("run", "seed-rst", "--json")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    pk = [e for e in events if e["type"] == "packet"]
    assert [p["flags"] for p in pk[:3]] == ["S", "S.", "."]
    assert pk[0]["seq"] == 0 and pk[1]["ack"] == 1 and pk[2]["ack"] == 1
    data = next(p for p in pk if p["flags"] == "P.")
    assert (data["from"], data["to"], data["seq"], data["len"]) == ("server", "client", 1, 1)
