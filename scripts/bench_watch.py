"""Watch mode's cost, against tcpdump on the same traffic, in a private network namespace.

1. burst: 20k small segments (32 bytes, TCP_NODELAY + MSG_EOR) as fast as one client writes;
2. paced: 50k packets/s on lo for 2 s (data and ACKs together, paced on lo's own tx counter, four
   writer processes with MSS-sized segments);
3. read: the paced run's pcap (tcpdump's, Ethernet on lo) read by ``watch --json -r`` and by
   ``tcpdump -nn -r`` (to /dev/null), alternating, READS times each: frames/s of the whole
   process (start-up included) and of watch's capture loop (frames / its ``run_cpu_s``);
4. memory: a synthetic pcap of 1M packets (20k connections, every teardown kind) read with -r.
Runs 1 and 2 are captured by ``tuiexplore watch --json --port P`` and ``tcpdump -w`` at once;
the ground truth is lo's tx_packets in /proc/net/dev; drops are the kernel's PACKET_STATISTICS.
With ``--base DIR`` (another checkout, e.g. ``git worktree``/``git archive`` of main) runs 1-3
are made for it too, in the same run, alternating with this tree: the A/B figure.
Prints a table and, last, the goal lines.

Usage: scripts/bench_watch.py [--base DIR] [--reads N]   (as root; re-runs itself under ``unshare -n``)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
PORT = 6100
SEGMENTS = 20_000
PPS = 50_000
PACED_S = 2.0
MSG_EOR = 0x80
MSS = 88  # TCP_MIN_MSS: the smallest segments the kernel makes
WRITERS = 4


def lo_tx() -> int:
    for line in open("/proc/net/dev"):
        if line.strip().startswith("lo:"):
            return int(line.split(":", 1)[1].split()[9])  # tx packets
    raise RuntimeError("no lo in /proc/net/dev")


def tree_env(tree: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("SSH_CONNECTION", None)
    return env


def start_capture(tree: Path, tmp: str, name: str, duration: float) -> tuple[subprocess.Popen, subprocess.Popen]:
    env = tree_env(tree)
    w = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-m",
            "tuiexplore",
            "watch",
            "--json",
            "--no-trace",
            "--port",
            str(PORT),
            "--duration",
            str(duration),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    cmd = ["tcpdump", "-i", "lo", "-w", f"{tmp}/{name}.pcap", f"tcp port {PORT}"]
    t = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    w.stdout.readline()  # "watching ...": its filter is attached
    while "listening on" not in t.stderr.readline():
        pass
    return w, t


def finish(w: subprocess.Popen, t: subprocess.Popen) -> dict:
    out, _ = w.communicate(timeout=60)
    summary = [json.loads(x) for x in out.splitlines() if '"summary"' in x][-1]
    t.send_signal(signal.SIGINT)
    err = t.communicate(timeout=30)[1]
    summary["tcpdump"] = int(re.search(r"(\d+) packets captured", err)[1])
    summary["tcpdump_drops"] = int(re.search(r"(\d+) packets dropped by kernel", err)[1])
    return summary


def traffic(paced: bool) -> int:
    """Returns the packets lo carried. Paced, WRITERS connections share the rate, each written by a
    process of its own (on a shared machine one process alone gets too little of the CPU)."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", PORT))
    lst.listen()
    before = lo_tx()
    pairs = []
    for _ in range(WRITERS if paced else 1):
        c = socket.socket()
        if paced:  # small segments, one a skb (lo's gso_max_segs is 1): many packets a write, cheap to send
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)
        c.connect(("127.0.0.1", PORT))
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pairs.append((c, lst.accept()[0]))
    children = []
    for c, a in pairs:
        for end in (a, c):  # the receiving end and the writer, each in its own process
            pid = os.fork()
            if pid == 0:
                for other in {x for pair in pairs for x in pair} - {end}:
                    other.close()  # or a connection would never end: a copy of its socket stays open
                if end is a:
                    while a.recv(65536):
                        pass
                else:
                    write(c, paced, before)
                os._exit(0)
            children.append(pid)
    for c, a in pairs:
        c.close()
        a.close()
    for pid in children:
        os.waitpid(pid, 0)
    lst.close()
    time.sleep(0.5)
    return lo_tx() - before


def write(c: socket.socket, paced: bool, before: int) -> None:
    if not paced:
        payload = b"x" * 32
        for _ in range(SEGMENTS):
            c.sendmsg([payload], [], MSG_EOR)
        return
    t0 = time.monotonic()
    while (elapsed := time.monotonic() - t0) < PACED_S:
        behind = PPS * elapsed - (lo_tx() - before)
        if behind > 0:  # each segment comes with, often, an ACK; the other writers close the gap too
            c.sendall(b"x" * (MSS * min(1000, int(behind) // (2 * WRITERS) + 1)))
        else:
            time.sleep(0.0005)


def _connection(n: int) -> list[bytes]:
    """Connection n: handshake, 44 data segments both ways, then FIN/FIN (or RSTs every third)."""
    ends = [
        (socket.inet_aton(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"), 1024 + n % 60000),
        (socket.inet_aton("10.255.0.1"), 80),
    ]
    seq = [1000, 5000]

    def seg(d: int, bits: int, size: int = 0) -> bytes:
        (sa, sp), (da, dp) = ends[d], ends[1 - d]
        tcp = struct.pack("!HHIIHHHH", sp, dp, seq[d], seq[1 - d], (5 << 12) | bits, 65535, 0, 0) + b"d" * size
        seq[d] += size + (1 if bits & 0x03 else 0)
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, sa, da) + tcp

    frames = [seg(0, 0x02), seg(1, 0x12), seg(0, 0x10)] + [seg(i % 2, 0x18, 20) for i in range(44)]
    return frames + ([seg(0, 0x11), seg(1, 0x11), seg(0, 0x10)] if n % 3 else [seg(0, 0x14), seg(1, 0x14), seg(0, 0x14)])


def synth_pcap(path: str, packets: int) -> int:
    rec = struct.Struct("=IIII")
    written = n = 0
    with open(path, "wb") as f:
        f.write(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        while written < packets:
            n += 1
            ts = n * 0.001
            for fr in _connection(n):
                f.write(rec.pack(int(ts), int(ts % 1 * 1e6), len(fr), len(fr)) + fr)
                written += 1
    return written


def read_rates(trees: list[Path], pcap: str, reads: int) -> tuple[dict[Path, dict], dict]:
    """watch -r of each tree and tcpdump -nn -r on one file, alternating: median wall and loop rates."""
    walls: dict[object, list[float]] = {t: [] for t in [*trees, "tcpdump"]}
    loops: dict[Path, list[float]] = {t: [] for t in trees}
    frames: dict[Path, int] = {}
    for _ in range(reads):
        for tree in trees:
            t0 = time.perf_counter()
            res = subprocess.run(
                [sys.executable, "-P", "-m", "tuiexplore", "watch", "--json", "-r", pcap],
                capture_output=True,
                text=True,
                env=tree_env(tree),
                timeout=300,
            )
            walls[tree].append(time.perf_counter() - t0)
            s = [json.loads(x) for x in res.stdout.splitlines() if '"summary"' in x][-1]
            frames[tree] = s["frames"]
            loops[tree].append(s["run_cpu_s"])
        t0 = time.perf_counter()
        subprocess.run(["tcpdump", "-nn", "-r", pcap], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls["tcpdump"].append(time.perf_counter() - t0)
    n = frames[trees[0]]
    out = {
        t: {"frames": frames[t], "fps": frames[t] / median(walls[t]), "loop_fps": frames[t] / max(1e-6, median(loops[t]))}
        for t in trees
    }
    return out, {"frames": n, "fps": n / median(walls["tcpdump"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, help="another checkout, measured alternately with this one (A/B)")
    ap.add_argument("--reads", type=int, default=5, help="reads of the pcap per reader (median)")
    args = ap.parse_args()
    if os.environ.get("BENCH_WATCH_NS") != "1":
        env = {**os.environ, "BENCH_WATCH_NS": "1"}
        sys.exit(subprocess.call(["unshare", "-n", sys.executable, __file__, *sys.argv[1:]], env=env))
    sys.path.insert(0, str(ROOT))
    from tuiexplore.lab.namespace import lo_up

    lo_up()
    subprocess.run(["ip", "link", "set", "dev", "lo", "gso_max_segs", "1"], check=True)
    trees = [ROOT] + ([args.base.resolve()] if args.base else [])
    label = {ROOT: "", **({trees[1]: " base"} if args.base else {})}
    load0 = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, paced in (("burst", False), ("paced", True)):
            for tree in trees:
                w, t = start_capture(tree, tmp, name, 8.0 if paced else 6.0)
                truth = traffic(paced)
                rows.append((name + label[tree], truth, finish(w, t)))
        rates, tcpd = read_rates(trees, f"{tmp}/paced.pcap", args.reads)
        pcap = f"{tmp}/synth.pcap"
        n = synth_pcap(pcap, 1_000_000)
        res = subprocess.run(
            [sys.executable, "-P", "-m", "tuiexplore", "watch", "--json", "-r", pcap],
            capture_output=True,
            text=True,
            env=tree_env(ROOT),
            timeout=900,
        )
        mem = [json.loads(x) for x in res.stdout.splitlines() if '"summary"' in x][-1]
    load1 = os.getloadavg()
    print(f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (2 cores, shared with other work)")
    head = f"{'run':<11} {'on lo':>7} {'watch':>7} {'drops':>6} {'tcpdump':>8} {'tcpd drops':>10} {'loss %':>7}"
    print(f"{head} {'CPU/pkt':>9} {'RSS MB':>7}")
    for name, truth, s in rows:
        loss = 100 * (truth - s["packets"]) / truth
        cpu = s["run_cpu_s"] / max(1, s["packets"]) * 1e6
        print(
            f"{name:<11} {truth:>7} {s['packets']:>7} {s['drops']:>6} {s['tcpdump']:>8} {s['tcpdump_drops']:>10}"
            f" {loss:>7.2f} {cpu:>7.1f}us {s['rss_mb']:>7.1f}"
        )
    cpu = mem["run_cpu_s"] / max(1, mem["packets"]) * 1e6
    print(
        f"{'pcap 1M':<11} {n:>7} {mem['packets']:>7} {'-':>6} {'-':>8} {'-':>10} {'-':>7} {cpu:>7.1f}us {mem['rss_mb']:>7.1f}"
        f"  ({mem['connections']} connections finished, {mem['aged_out']} aged out)"
    )
    print(f"read of the paced run's pcap ({tcpd['frames']} frames), median of {args.reads}, frames/s:")
    for tree in trees:
        r = rates[tree]
        print(f"  watch -r{label[tree]:<5} whole process {r['fps']:>9.0f}   capture loop {r['loop_fps']:>9.0f}")
    print(f"  tcpdump -nn -r whole process {tcpd['fps']:>9.0f}")
    paced = [r for r in rows if r[0] == "paced"][0]
    print(f"paced_pps={paced[1] / PACED_S:.0f} (goal {PPS}: a loaded machine may not reach it)")
    print(f"loss_pct_{PPS // 1000}kpps={100 * (paced[1] - paced[2]['packets']) / paced[1]:.2f}")
    print(f"drops_{PPS // 1000}kpps={paced[2]['drops']}")
    print(f"burst_captured={rows[0][2]['packets']}")
    print(f"tcpdump_burst_captured={rows[0][2]['tcpdump']}")
    print(f"watch_r_fps={rates[ROOT]['fps']:.0f}")
    print(f"watch_r_loop_fps={rates[ROOT]['loop_fps']:.0f}")
    print(f"tcpdump_r_fps={tcpd['fps']:.0f}")
    print(f"watch_vs_tcpdump={rates[ROOT]['fps'] / tcpd['fps']:.2f}")
    if args.base:
        print(f"watch_r_fps_base={rates[trees[1]]['fps']:.0f}")
    print(f"rss_mb_1m={mem['rss_mb']:.1f}")


if __name__ == "__main__":
    main()
