"""Packet rows in tcpdump's own words: the options string is tcpdump's, byte for byte."""

import json
import re
import shutil
import subprocess

import pytest
from conftest import cli

from tuiexplore.tcpdump import clock, tcp_options, timestamp


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
def test_syn_options_match_tcpdump_on_the_apps_pcap(tmp_path):
    pcap = tmp_path / "seed.pcap"
    r = cli("run", "seed-rst", "--json", "--pcap", str(pcap))
    assert r.returncode == 0, r.stderr
    packets = [e for e in map(json.loads, r.stdout.splitlines()) if e["type"] == "packet"]
    out = subprocess.run(["tcpdump", "-nn", "-r", str(pcap)], capture_output=True, text=True, check=True).stdout
    theirs = re.findall(r"options \[([^\]]*)\]", out)
    ours = [p["options"] for p in packets if p["options"]]
    syn = next(p for p in packets if p["flags"] == "S")
    assert syn["options"].startswith("mss ") and "sackOK" in syn["options"]
    assert theirs[0] == syn["options"]
    assert theirs == ours  # every packet, not only the SYN
