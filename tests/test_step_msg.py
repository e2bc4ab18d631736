"""sendmsg/recvmsg, sendmmsg/recvmmsg, writev/readv decoded from real traced programs: the
address, every iovec buffer (escaped, never markup), the flags by name; received buffers at the
call's exit, cut to the returned length."""

from __future__ import annotations

import sys

from tests.conftest import PROGS, build_c
from tests.test_step import of, output, step
from tuiexplore.timeline import StepEvent
from tuiexplore.trace.describe import return_text


def test_sendmsg_recvmsg_buffers_address_and_flags():
    rc, evs, err = step("--", sys.executable, str(PROGS / "msg_calls.py"))
    assert rc == 0, err
    sends = of(evs, "stop", call="sendmsg")
    tcp, udp = sends
    assert tcp["args"]["iov"] == [
        {"len": 2, "data": "he", "truncated": False},
        {"len": 8, "data": "llo\\x1b[31m", "truncated": False},  # ESC is \x1b, never an escape sequence
    ]
    assert tcp["args"]["flags"] == "MSG_NOSIGNAL" and tcp["args"]["addr"] is None
    assert udp["args"]["addr"]["family"] == "AF_INET" and udp["args"]["addr"]["ip"] == "127.0.0.1"
    r1, r2, r3 = of(evs, "step", call="recvmsg")
    assert r1["ret"] == 4 and [v["data"] for v in r1["result"]["iov"]] == ["hell"]
    assert r1["result"]["msg_flags"] == "0"
    # recvmsg_into with two buffers: the 6 bytes fill the first (3), then the second
    assert r2["ret"] == 6 and [(v["len"], v["data"]) for v in r2["result"]["iov"]] == [(3, "o\\x1b["), (5, "31m")]
    assert r3["ret"] == 8 and r3["result"]["iov"][0]["data"] == "datagram"
    assert r3["result"]["msg_flags"] == "MSG_TRUNC" and r3["result"]["addr"]["ip"] == "127.0.0.1"
    assert "udp b'datagram' True 127.0.0.1" in output(evs, "client")
    [writev] = of(evs, "stop", call="writev")
    assert [v["data"] for v in writev["args"]["iov"]] == ["ab", "cd"]
    [readv] = of(evs, "step", call="readv")
    assert readv["ret"] == 4 and [(v["len"], v["data"]) for v in readv["result"]["iov"]] == [(1, "a"), (8, "bcd")]
    line = return_text(StepEvent(0.0, r2["step"], "client", "recvmsg", r2["args"], r2["ret"], None, r2["result"]))
    assert '{"o\\x1b[", 3}, {"31m", 5}' in line and "\x1b" not in line


def test_sendmmsg_recvmmsg(tmp_path):
    exe = build_c("mmsg.c", tmp_path / "mmsg")
    rc, evs, err = step("--", str(exe))
    assert rc == 0, err
    [send] = of(evs, "stop", call="sendmmsg")
    assert [m["iov"][0]["data"] for m in send["args"]["msgs"]] == ["one", "two\\x0a"]
    [recv] = of(evs, "step", call="recvmmsg")
    assert recv["ret"] == 2 and recv["args"]["flags"] == "MSG_WAITFORONE"
    msgs = recv["result"]["msgs"]
    assert [(m["msg_len"], m["iov"][0]["len"], m["iov"][0]["data"]) for m in msgs] == [(3, 16, "one"), (4, 16, "two\\x0a")]
    assert "sent 2 got 2" in output(evs, "client")
