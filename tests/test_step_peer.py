"""``tuiexplore step --lab --with-server seed``: a lab actor running the seed's epoll server
policy is the peer of a real traced client, in the lab's own namespace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import PROGS, ROOT, cli
from tests.test_step import of, output, step

ENV_CLIENT = """
import os, socket
host, port = os.environ["TUIEXPLORE_SERVER"].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
print("got", s.recv(1).decode())
s.close()
"""


def test_seed_client_against_the_lab_server(seed):
    rc, evs, err = step("--with-server", "seed", "--", str(seed / "client"), "9999")
    assert rc == 0, err
    [note] = [e for e in of(evs, "note") if "listens on" in e["text"]]
    assert "127.0.0.1:9999" in note["text"] and "TUIEXPLORE_SERVER" in note["text"]
    server_calls = [e["call"] for e in of(evs, "step", actor="server")]
    assert server_calls[:6] == ["socket", "setsockopt", "bind", "listen", "epoll_create", "epoll_ctl"], server_calls
    assert "accept" in server_calls and "write" in server_calls
    packets = [(e["from"], e["flags"], e["len"]) for e in of(evs, "packet")]
    assert packets[:3] == [("client", "S", 0), ("server", "S.", 0), ("client", ".", 0)], packets
    write = packets.index(("server", "P.", 1))
    assert ("client", "R.", 0) in packets[write:], packets
    [close] = [e for e in of(evs, "stop", actor="client", call="close") if e["prediction"]]
    [pred] = close["prediction"]
    assert pred["branch"] == "data_was_unread" and "1 byte unread" in pred["text"]
    [v] = of(evs, "verdict", actor="client")
    assert v["agree"] and (v["predicted"], v["observed"], v["branch"]) == ("RST", "RST", "data_was_unread")
    assert any(e["mask"] == "201d" for e in of(evs, "epoll", actor="server")), of(evs, "epoll")
    assert of(evs, "step", actor="server", call="close"), "the server closes the reset connection, as the seed's does"


def test_the_address_is_in_the_programs_environment():
    rc, evs, err = step("--with-server", "seed", "--", sys.executable, "-c", ENV_CLIENT)
    assert rc == 0, err
    [connect] = of(evs, "stop", actor="client", call="connect")
    assert connect["args"]["addr"] == {"family": "AF_INET", "ip": "127.0.0.1", "port": 9999}
    assert "got 1" in output(evs, "client")
    [v] = of(evs, "verdict", actor="client")
    assert v["agree"] and v["observed"] == "FIN", v  # it read the byte: nothing unread


def test_bad_with_server_is_one_line():
    for argv, words in [
        (["--lab", "--with-server", "nginx\x1b[31m"], "no such lab server (known: seed)"),
        (["--with-server", "seed"], "needs --lab"),
        (["--lab", "--with-server", "seed", "--server"], "give the traced program --client"),
    ]:
        r = cli("step", "--auto", *argv, "--", "/bin/true", timeout=30)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
        assert "\x1b" not in r.stderr and "Traceback" not in r.stderr
    assert PROGS.is_dir()


RUNS_ON = """
import socket, sys, time
s = socket.create_connection(("127.0.0.1", 9999))
s.recv(1)
time.sleep(1.5)  # interrupted meanwhile: it must run on, its lab server still there
got = s.recv(16)
open(sys.argv[1], "w").write(str(len(got) > 0))
s.close()
"""


def test_interrupted_program_runs_on_against_the_lab_server(tmp_path):
    done = tmp_path / "done"
    argv = ["step", "--auto", "--json", "--lab", "--with-server", "seed", "--", sys.executable, "-c", RUNS_ON, str(done)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiexplore", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        for line in proc.stdout:  # up to its first byte from the server
            e = json.loads(line)
            if e["type"] == "step" and e["actor"] == "client" and e["call"] == "recvfrom":
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 130 and "detached from stepping" in err, err
        end = time.monotonic() + 20
        while not done.exists():
            assert time.monotonic() < end, "the program did not run on to its end"
            time.sleep(0.1)
        time.sleep(0.2)
        assert done.read_text() == "True", "the lab server kept serving it (a second byte came)"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
