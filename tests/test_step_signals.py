"""A traced program killed by a signal while it holds a connection: the kernel closes its fds at
exit, with no close() call. It parks at PTRACE_EVENT_EXIT as a ``killed`` stop (fds still open),
gets the exit's prediction from the socket's real state, and its verdict from the wire."""

from __future__ import annotations

import sys

import pytest

from tests.test_step import of, output, peer, step


@pytest.mark.parametrize("sig", ["SIGSEGV", "SIGKILL"])
def test_killed_with_unread_data(sig, c_client):
    rc, evs, err = step(*peer("hello"), "--client", "--", c_client, "47031", {"SIGSEGV": "segv", "SIGKILL": "sigkill"}[sig])
    assert rc == 0, err
    [stop] = of(evs, "stop", actor="client", call="killed")
    assert stop["args"] == {"signal": sig}
    [pred] = stop["prediction"]
    assert (pred["outcome"], pred["branch"]) == ("RST", "data_was_unread") and "5 bytes unread" in pred["text"]
    assert pred["socket"].endswith("127.0.0.1:47031 ESTABLISHED")
    [v] = of(evs, "verdict", actor="client", step=stop["step"])
    assert v["agree"] and v["observed"] == "RST" and v["call"] == "killed"
    rst = [e for e in of(evs, "packet") if e["from"] == "client" and e["flags"] == "R."]
    assert rst and rst[0]["step"] == stop["step"]
    assert "peer: RST" in output(evs, "server")
    assert any(e["text"] == f"client: pid {stop['pid']} killed by {sig}" for e in of(evs, "note"))
    assert of(evs, "counters", step=stop["step"])[0]["deltas"].get("TcpExt.TCPAbortOnClose") == 1


CLOSE_THEN_DIE = """
import os, signal, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.close()
os.kill(os.getpid(), signal.SIGTERM)
"""


def test_killed_after_closing_everything_has_nothing_to_predict():
    """No sockets left when the signal comes: no killed stop, and no word of a missed prediction."""
    rc, evs, err = step(*peer(), "--client", "--", sys.executable, "-c", CLOSE_THEN_DIE, "47031")
    assert rc == 0, err
    assert not of(evs, "stop", call="killed")
    [close] = [e for e in of(evs, "stop", actor="client", call="close") if e["prediction"]]
    assert close["prediction"][0]["outcome"] == "FIN"
    assert any(e["text"].endswith("killed by SIGTERM") for e in of(evs, "note"))
    assert not [e for e in of(evs, "note") if "no prediction" in e["text"]], of(evs, "note")
    assert "peer: EOF" in output(evs, "server")
