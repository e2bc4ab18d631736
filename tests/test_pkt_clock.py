"""A closing call's packets are judged the call's by their time stamps against the call's return:
both on the device's one clock, so no cost of reading clocks can put a call's RST after it.

Seen in CI on a TCG guest: close() sent its RST (the next > line matched it), yet the verdict
said "close() -> none" because the stamp, converted from CLOCK_REALTIME to time.monotonic() by
one unbracketed pair of reads, came out after the call's return time. Here every monotonic read
the device makes costs 5 ms, as a preempted read does there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tuiexplore.packetdrill.events import decode
from tuiexplore.packetdrill.scriptfile import read_script
from tuiexplore.timeline import VerdictEvent

ROOT = Path(__file__).parent.parent
PKT = Path(__file__).parent / "data" / "pkt" / "close_unread.pkt"

SLOW_CLOCK_AGENT = """
import sys, time, types
from tuiexplore.packetdrill import agent, netdev

def slow_monotonic():
    time.sleep(0.005)
    return time.monotonic()

netdev.time = types.SimpleNamespace(time=time.time, monotonic=slow_monotonic, sleep=time.sleep)
sys.exit(agent.main())
"""


def test_a_close_is_credited_its_rst_however_slow_the_clock_reads():
    options = {
        "path": str(PKT), "text": read_script(str(PKT)), "defines": {}, "ipv6": False,
        "tolerance_usecs": 250000, "unread_rule": None,
    }  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-P", "-c", SLOW_CLOCK_AGENT],
        input=json.dumps(options) + "\n", capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    events = [decode(line) for line in out.stdout.splitlines()[1:] if line.strip()]
    verdicts = [e for e in events if isinstance(e, VerdictEvent) and e.call == "close"]
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert [(v.observed, v.branch, v.agree) for v in verdicts] == [("RST", "data_was_unread", True)], verdicts
