"""Packet rows in tcpdump's own words: the options string is tcpdump's, byte for byte."""

import shutil
import subprocess

import pytest

from tuiexplore import runner
from tuiexplore.reports import transcript
from tuiexplore.scenarios.scenario import load
from tuiexplore.tcpdump import absolute, clock, tcp_options, timestamp
from tuiexplore.timeline import PacketEvent
from tuiexplore.tui import packetrow


def test_option_kinds():
    opts = bytes.fromhex("0204ffd70402080a0000000100000000010303070101050a000000010000000200")
    assert tcp_options(opts) == "mss 65495,sackOK,TS val 1 ecr 0,nop,wscale 7,nop,nop,sack 1 {1:2},eol"
    assert tcp_options(bytes([0x22, 0x02])) == "tfo  cookiereq"
    assert tcp_options(bytes([0x02, 0x09])) == "opt-2:[bad opt]"  # a length past the header


def test_timestamps():
    assert clock(3723.5) == "01:02:03.500000"
    assert timestamp(1, 0.75, 0.5, 0.1) == "00:00:00.250000"  # -ttt: since the previous packet
    assert timestamp(2, 0.75, 0.5, 0.1) == "00:00:00.650000"  # -ttttt: since the first


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is installed by scripts/setup.sh")
def test_rows_match_tcpdump_on_the_apps_pcap(tmp_path):
    pcap = tmp_path / "seed.pcap"
    r = runner.run(load("seed-rst"), pcap=str(pcap))
    assert r.ok, r.failures
    packets = [e for e in r.events if isinstance(e, PacketEvent)]
    out = subprocess.run(["tcpdump", "-nn", "-S", "-r", str(pcap)], capture_output=True, text=True, check=True).stdout
    theirs = [line.split(": ", 1)[1] for line in out.splitlines()]
    syn = packets[0]
    assert syn.flags == "S" and theirs[0].startswith("Flags [S], seq ") and "options [mss " in theirs[0]
    syn_row = packetrow.row(syn, 300, True, 0, None, None, "").plain  # the explorer's row, -S on
    assert syn_row.endswith(": " + theirs[0])
    assert f"options [{syn.options}]" in transcript.line(syn) and f"options [{syn.options}]" in theirs[0]
    # Every packet, word for word, with -S's absolute numbers.
    assert [p.tcpdump(seq_ack=absolute(p.raw)) for p in packets] == theirs
