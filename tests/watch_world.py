"""Run inside a fresh network namespace (``unshare -n``): six teardown kinds at once, each a real
client process and a real server process on its own port, watched live by ``tuiexplore watch
--json -w`` and then read back with ``-r``. Prints one JSON object: pids, live and read records.

Usage: unshare -n python tests/watch_world.py OUT_DIR [--no-trace | --pid-mode | --lab-mode | --thread-mode]
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOSED_PORT = 5099
PORTS = {
    "clean": 5001,
    "unread": 5002,
    "linger0": 5003,
    "refused": CLOSED_PORT,
    "after_close": 5005,
    "half_close": 5006,
    "unread6": 5007,
}
HOSTS = {"unread6": "::1"}  # the rest on 127.0.0.1
NOISE_PORT = 5050  # a connection on a port nobody watches: the kernel filter must keep it out
HOLD = 1.2  # every socket lives this long, so the owner scan (every 0.5 s) sees it
# watch ends when it has reported the connections a world makes (--count), however long a busy
# box takes to make them; --duration only bounds a run that would never end
BOUND = "60"

# Each role is a tiny program of its own: (server, client) source, formatted with the port.
ROLES = {
    "clean": (
        "a, _ = l.accept(); a.recv(10); a.recv(10); a.close()",
        "c.send(b'hi'); time.sleep(HOLD); c.close()",
    ),
    "unread": (
        "a, _ = l.accept(); a.send(b'unread!'); time.sleep(HOLD + 1); a.close()",
        "time.sleep(HOLD); c.close()",
    ),
    "linger0": (
        "a, _ = l.accept(); a.recv(10); time.sleep(HOLD + 1); a.close()",
        "c.send(b'req'); time.sleep(HOLD); c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close()",
    ),
    "after_close": (
        "a, _ = l.accept(); a.recv(10); time.sleep(0.2); a.send(b'late'); time.sleep(1); a.close()",
        "time.sleep(HOLD); c.close(); time.sleep(1.5)",
    ),
    "half_close": (
        "a, _ = l.accept(); q = a.recv(10); a.recv(10); time.sleep(0.1); a.send(b'answer'); a.close()",
        "c.send(b'question'); time.sleep(HOLD); c.shutdown(socket.SHUT_WR); c.recv(10); c.recv(10); time.sleep(0.3); c.close()",
    ),
}
ROLES["unread6"] = ROLES["unread"]
PRELUDE = (
    "import socket, struct, sys, time\nHOLD = {hold}\nport = {port}\nhost = {host!r}\n"
    "fam = socket.AF_INET6 if ':' in host else socket.AF_INET\n"
)
SERVER = (
    "l = socket.socket(fam); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "l.bind((host, port)); l.listen()\nprint('ready', flush=True)\n"
)
CLIENT = "c = socket.create_connection((host, port))\n"
# after the refusal the client lives on like every other role: watch places a tracepoint's task by
# /proc, and never credits a connection to a task that has exited (its pid may be reused)
REFUSED = (
    "time.sleep(HOLD)\ntry:\n    socket.create_connection((host, port))\nexcept ConnectionRefusedError:\n    pass\n"
    "time.sleep(HOLD)\n"
)


def lo_up() -> None:
    sys.path.insert(0, str(ROOT))
    from tuiexplore.lab.namespace import lo_up

    lo_up()


def py(code: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, **kw)


def watch(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SSH_CONNECTION", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tuiexplore", "watch", "--json", *args], stdout=subprocess.PIPE, text=True, env=env
    )


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def pid_world() -> None:
    """--pid: two servers; watch follows one process's ports, including one it opens later."""
    lo_up()
    head = PRELUDE.format(hold=HOLD, port=5201, host="127.0.0.1")
    late = "time.sleep(1.5)\nl2 = socket.socket(); l2.bind((host, 5203)); l2.listen()\nb, _ = l2.accept(); b.close()\n"
    watched = py(head + SERVER + "a, _ = l.accept(); a.close()\n" + late)
    other = py(PRELUDE.format(hold=HOLD, port=5202, host="127.0.0.1") + SERVER + "a, _ = l.accept(); a.close()\n")
    for s in (watched, other):
        assert s.stdout.readline().strip() == "ready"
    w = watch("--pid", str(watched.pid), "--count", "2", "--duration", BOUND)
    w.stdout.readline()
    for port in (5201, 5202):
        c = socket.create_connection(("127.0.0.1", port))
        c.recv(10)
        c.close()
    time.sleep(2.5)  # the late listener on 5203 is up, and watch re-read the ports (every second)
    c = socket.create_connection(("127.0.0.1", 5203))
    c.recv(10)
    c.close()
    out, _ = w.communicate(timeout=90)
    print(json.dumps({"pid": watched.pid, "records": records(out)}))


THREAD_PORT = 5401
# accepts in its main thread and closes each connection in a thread of its own: close()'s
# tracepoint runs in that thread, whose id is not the process's
THREADED = (  # each thread lives on after its close(), as a pool's would, so its line is placed
    "import threading\nfor _ in range(2):\n    a, _ = l.accept()\n"
    "    threading.Thread(target=lambda a=a: (a.close(), time.sleep(HOLD))).start()\n"
)


def thread_world() -> None:
    """A threaded server, as root with tracepoints: each row's owner is its process."""
    lo_up()
    server = py(PRELUDE.format(hold=HOLD, port=THREAD_PORT, host="127.0.0.1") + SERVER + THREADED)
    assert server.stdout.readline().strip() == "ready"
    w = watch("--port", str(THREAD_PORT), "--count", "2", "--duration", BOUND)
    first = w.stdout.readline()
    for _ in range(2):
        c = socket.create_connection(("127.0.0.1", THREAD_PORT))
        c.recv(10)
        c.close()
    out, _ = w.communicate(timeout=90)
    server.wait(20)
    print(json.dumps({"first": first, "pid": server.pid, "client": os.getpid(), "records": records(out)}))


LAB_PORT = 5301
LAB_SCENARIO = """title = "a lab's connect() to the watched port, in its own namespace"
summary = "its tracepoints run in a tracefs instance of its own while watch's run in another"
port = {port}
[[step]]
actor = "client"
call = "socket"
as = "sock"
[[step]]
actor = "client"
call = "connect"
fd = "sock"
"""


def lab_world(out_dir: Path) -> None:
    """A real lab traces (its own tracefs instance, its own namespace) while watch traces here:
    the lab's connect() to 127.0.0.1:LAB_PORT must not lend its actor to our connection there."""
    lo_up()
    toml = out_dir / "lab.toml"
    toml.write_text(LAB_SCENARIO.format(port=LAB_PORT))
    w = watch("--port", str(LAB_PORT), "--count", "1", "--duration", BOUND)
    first = w.stdout.readline()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    lab = subprocess.run(
        [sys.executable, "-m", "tuiexplore", "run", str(toml), "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    head = PRELUDE.format(hold=HOLD, port=LAB_PORT, host="127.0.0.1")
    s = py(head + SERVER + ROLES["clean"][0])
    assert s.stdout.readline().strip() == "ready"
    c = py(head + CLIENT + ROLES["clean"][1])
    s.wait(20)
    c.wait(20)
    out, _ = w.communicate(timeout=90)
    lab_events = [json.loads(line) for line in lab.stdout.splitlines() if line.startswith("{")]
    print(
        json.dumps(
            {"first": first, "records": records(out), "pids": {"server": s.pid, "client": c.pid}}
            | {"lab_rc": lab.returncode, "lab_err": lab.stderr, "lab": lab_events}
        )
    )


def main() -> None:
    out_dir, extra = Path(sys.argv[1]), sys.argv[2:]
    if extra == ["--pid-mode"]:
        pid_world()
        return
    if extra == ["--lab-mode"]:
        lab_world(out_dir)
        return
    if extra == ["--thread-mode"]:
        thread_world()
        return
    lo_up()
    pcap = str(out_dir / "world.pcap")
    ports = [a for p in PORTS.values() for a in ("--port", str(p))]
    w = watch(*ports, "-w", pcap, "--count", str(len(PORTS)), "--duration", BOUND, *extra)
    first = w.stdout.readline()  # the "watching ..." note: the capture and tracepoints are live
    pids: dict[str, dict[str, int | None]] = {}
    procs = []
    for name, (server, client) in ROLES.items():
        head = PRELUDE.format(hold=HOLD, port=PORTS[name], host=HOSTS.get(name, "127.0.0.1"))
        s = py(head + SERVER + server)
        assert s.stdout.readline().strip() == "ready"
        procs.append((s, py(head + CLIENT + client)))
        pids[name] = {"server": s.pid, "client": procs[-1][1].pid}
    head = PRELUDE.format(hold=HOLD, port=NOISE_PORT, host="127.0.0.1")
    s = py(head + SERVER + ROLES["clean"][0])
    s.stdout.readline()
    procs.append((s, py(head + CLIENT + ROLES["clean"][1])))
    r = py(PRELUDE.format(hold=HOLD, port=CLOSED_PORT, host="127.0.0.1") + REFUSED)
    procs.append((r, r))
    pids["refused"] = {"server": None, "client": r.pid}
    for s, c in procs:
        s.wait(20)
        c.wait(20)
    live_out, _ = w.communicate(timeout=90)
    back = subprocess.run(
        [sys.executable, "-m", "tuiexplore", "watch", "--json", "-r", pcap],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    print(
        json.dumps(
            {
                "first": first,
                "ports": PORTS,
                "pids": pids,
                "live": records(first + live_out),
                "read": records(back.stdout),
                "read_rc": back.returncode,
                "tcpdump_r": subprocess.run(["tcpdump", "-n", "-r", pcap], capture_output=True, text=True).stdout,
                "read_err": back.stderr,
                "live_rc": w.returncode,
                "time": time.time(),
            }
        )
    )


if __name__ == "__main__":
    socket.setdefaulttimeout(20)
    main()
