"""The kernel's own RST reason (tcp:tcp_send_reset, Linux 6.10 on) in a script's run: as root the
verdicts, the held ``>`` lines and a failing line's message carry it; unprivileged the run says
once that it needs root. The reasons are the kernel's, read from the tracepoint, never inferred."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_pkt_run import DATA, IS_ROOT, SLOW, UNPRIVILEGED, events, lines, pkt

from tuiexplore.lab.predict import kernel_version
from tuiexplore.packetdrill.reasons import NEEDS_ROOT

# Close-specific reason names came in 6.12 (shared/notes/kernel.md); this machine runs 6.18.
root_with_reasons = pytest.mark.skipif(
    not IS_ROOT or kernel_version(os.uname().release) < (6, 12, 0), reason="needs root and Linux 6.12 or later"
)


@root_with_reasons
def test_a_closing_verdict_and_the_expected_rst_carry_the_kernels_reason() -> None:
    r = pkt(str(DATA / "close_unread.pkt"), "--json", SLOW)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    evs = events(r.stdout)
    (verdict,) = [e for e in evs if e["type"] == "verdict" and e["call"] == "close"]
    assert verdict["branch"] == "data_was_unread" and verdict["rst_reason"] == "TCP_ABORT_ON_CLOSE"
    assert lines(evs)[22]["text"] == "kernel reason TCP_ABORT_ON_CLOSE"  # the `> R.` line
    assert not [e for e in evs if e["type"] == "note" and "reason" in e["text"]]


@root_with_reasons
def test_a_failing_line_names_the_reason_of_the_rst_the_kernel_sent_instead(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pkt"
    # The script says the kernel ACKs the data; it resets the socket it closed (FIN_WAIT1).
    wrong.write_text((DATA / "data_after_close.pkt").read_text().replace("+0 > R 1:1(0)", "+0 > . 2:2(0) ack 11"))
    r = pkt(str(wrong), SLOW)
    assert r.returncode == 1
    want = f"{wrong}:23: error handling packet: expected . 2:2(0) ack 11 got R 1:1(0) win 0 (flags . vs R; seq 2 vs 1)"
    assert f"{want} reason TCP_ABORT_ON_DATA" in r.stderr


@pytest.mark.skipif(not IS_ROOT, reason="switches to uid 65534")
def test_unprivileged_the_run_says_once_that_reasons_need_root() -> None:
    r = pkt(str(DATA / "close_unread.pkt"), "--json", UNPRIVILEGED, who="nobody")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    evs = events(r.stdout)
    assert [e["text"] for e in evs if e["type"] == "note" and "reason" in e["text"]] == [NEEDS_ROOT]
    (verdict,) = [e for e in evs if e["type"] == "verdict" and e["call"] == "close"]
    assert verdict["observed"] == "RST" and verdict["rst_reason"] is None
    assert lines(evs)[22]["text"] == ""
