"""Session bundles and the ladder diagram: what a write-up or a slide needs."""

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from conftest import cli
from tui_fakes import EVENTS

from tuiexplore.reports.ladder import ladder


def test_run_export_bundle(tmp_path):
    out = tmp_path / "bundle"
    proc = cli("run", "seed-rst", "--export", str(out))
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in (out / "timeline.jsonl").read_text().splitlines()]
    verdict = next(e for e in events if e["type"] == "verdict")
    assert (verdict["observed"], verdict["branch"]) == ("RST", "data_was_unread")
    if shutil.which("tcpdump") is None:
        pytest.fail("tcpdump is missing: scripts/test.sh installs it")
    dump = subprocess.run(["tcpdump", "-nn", "-r", str(out / "capture.pcap")], capture_output=True, text=True)
    assert dump.returncode == 0 and "Flags [R.]" in dump.stdout.splitlines()[-1]
    md = (out / "transcript.md").read_text()
    assert "Flags [R.]" in md and "→ RST (the prediction held)" in md and "data_was_unread" in md
    assert "## Ladder" in md and "[R.] seq 1 ack 2" in md
    assert "`epoll_ctl(ep, conn, events=EPOLLIN\\|EPOLLOUT" in md  # pipes escaped inside the table
    svg = ET.parse(out / "screen.svg").getroot()
    assert svg.tag.endswith("svg")
    text = "".join(svg.itertext())
    assert "close(sock)" in text and "TCPAbortOnClose" in text  # the reason name needs root (tracepoints)
    cells = text.replace("\xa0", " ")  # the SVG writes spaces as no-break spaces
    assert "listener (3)" in cells and "conn (5)" in cells  # the sockets panel has its rows, as ctrl+e's has


def test_ladder_draws_each_packet_between_its_actors():
    lines = ladder(EVENTS, with_steps=False)
    assert lines[0].split() == ["step", "client", "server"]
    syn, synack, rst = lines[1], lines[2], lines[-1]
    assert "[S] seq 0" in syn and syn.rstrip().endswith(">|")  # client -> server
    assert "[S.] seq 0 ack 1" in synack and "|<-" in synack  # server -> client
    assert rst.lstrip().startswith("<14>") and "[R.]" in rst and rst.rstrip().endswith(">|")


def test_bundle_has_the_state_diagram(tmp_path):
    out = tmp_path / "bundle"
    proc = cli("run", "clean-close", "--export", str(out))
    assert proc.returncode == 0, proc.stderr
    md = (out / "transcript.md").read_text()
    section = md.split("## TCP states", 1)[1].split("## Ladder", 1)[0]
    assert "TIME_WAIT" in section and "●sock·tw" in section
    assert "FIN_WAIT1 ─rcv ACK, tw sock→ FIN_WAIT2 ─rcv FIN→ TIME_WAIT" in section
    assert "CLOSE_WAIT ─close()→ LAST_ACK ─rcv ACK→ CLOSE" in section
    assert "options [mss " in md  # the SYN's options in the transcript
    text = "".join(ET.parse(out / "diagram.svg").getroot().itertext())
    assert "ESTABLISHED" in text and "●conn" in text
