"""``compare FILE.pkt --kernel A --kernel B``: one script on two kernels, the line where they part.

The guest runs (marked ``guest``) use the cached 6.1 line against this machine's own kernel.
Under TCG the guest needs a wide packetdrill --tolerance_usecs (see test_pkt_guest.py).
"""

import json
import platform
from pathlib import Path

import pytest
from conftest import cli
from test_pkt_guest import SLOW, _kernel_with_tun

from tuiexplore.lab.predict import kernel_version
from tuiexplore.packetdrill.client import RunOptions, ScriptRun
from tuiexplore.packetdrill.compare import LineRun, SideRun, collect, parting, summary
from tuiexplore.packetdrill.events import EndEvent, LineEvent
from tuiexplore.packetdrill.parser import parse
from tuiexplore.timeline import PacketEvent, VerdictEvent

PKT = Path(__file__).parent / "data" / "pkt"
# "tcp: accept bare FIN packets under memory pressure" (Eric Dumazet, net-next, April 2024):
# tcp_data_queue() takes a bare FIN that comes at rcv_nxt into a zero window. Debian's 6.1.176
# has no such test (tcp_input.c 5140-5144: any segment there is dropped as out of window).
BARE_FIN_ACCEPTED = (6, 10)


def _ack(ack: int, win: int = 0) -> PacketEvent:
    return PacketEvent(0.1, "local", "peer", 8080, 4000, ".", 1, ack, 0, win, 1)


def test_a_timers_segment_belongs_to_the_line_that_took_it():
    """A delayed ACK comes in while the inject line runs on a slow guest, and during the > line's
    wait on a fast host: both put it on the > line that took it, so the kernels decided alike."""
    script = parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < P. 1:11(10) ack 1 win 257\n* > . 1:1(0) ack 11\n", {})

    def run(pumped_at: int) -> SideRun:
        lines = [LineEvent(0.1, n, n, e.source, "", True) for n, e in enumerate(script.events, 1)]
        ack = PacketEvent(0.05, "local", "peer", 8080, 4000, ".", 1, 11, 0, 256, pumped_at)
        return collect(script, "k", [*lines, ack, EndEvent(0.2, 0)])

    fast, slow = run(3), run(2)
    assert [len(line.sent) for line in fast.lines] == [len(line.sent) for line in slow.lines] == [0, 0, 1]
    assert parting(fast, slow) is None


def test_a_window_alone_is_no_parting_and_an_ack_is():
    def side(*sent: PacketEvent) -> SideRun:
        return SideRun("k", [LineRun(True), LineRun(True, sent=list(sent))], 0)

    assert parting(side(_ack(60001, 0)), side(_ack(60001, 256))) is None
    assert parting(side(_ack(60002)), side(_ack(60001))) == 1
    held, failed = side(), side()
    failed.lines[0] = LineRun(False, "x.pkt:9: ...")
    assert parting(held, failed) == 0


def _receipt(branch: str, agree: bool) -> VerdictEvent:
    return VerdictEvent(0.1, 1, "peer", "4", "inject", "ACK", "ACK", branch, None, {}, agree, "")


def _fin_then_ack(branch: str, agree: bool, ack: int, drop: int) -> SideRun:
    """An injected FIN (its verdict and counters) then the > line that took the kernel's ACK."""
    counters = {"TcpExt.TCPZeroWindowDrop": drop} if drop else {"TcpExt.TCPRcvCoalesce": 1}
    fin = LineRun(True, verdicts=[_receipt(branch, agree)], counters=counters)
    return SideRun("k", [LineRun(True), fin, LineRun(ack == 60002, sent=[_ack(ack)])], 0)


def test_the_summary_names_the_branch_each_kernel_took_where_they_part():
    script = parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < F. 1:1(0) ack 1 win 257\n+0 > . 1:1(0) ack 2\n", {})
    a, b = _fin_then_ack("rcv_fin", True, 60002, 0), _fin_then_ack("rcv_zero_window", True, 60001, 1)
    assert parting(a, b) == 1
    said = summary(script, a, b)
    assert said == [
        "== the runs part at line 2 (+0 < F. 1:1(0) ack 1 win 257): A ok, inject() took rcv_fin; counters "
        "TcpExt.TCPRcvCoalesce +1 | B ok, inject() took rcv_zero_window; counters TcpExt.TCPZeroWindowDrop +1"
    ]
    # A prediction that did not hold names no branch as its kernel's, and is no longer the same
    # decision as the other kernel's held one (before, both read "rcv_fin" and the runs parted
    # only at the > line after).
    wrong = _fin_then_ack("rcv_fin", False, 60001, 1)
    assert parting(a, wrong) == 1
    not_taken = "| B ok, inject() -> ACK, not the predicted rcv_fin; counters TcpExt.TCPZeroWindowDrop +1"
    assert summary(script, a, wrong)[0].endswith(not_taken)
    # No verdicts (a receiver no prediction follows): the runs part at the > line, and the FIN's
    # line before it says what each kernel counted there.
    bare_a, bare_b = (_fin_then_ack("rcv_fin", True, 60002, 0), _fin_then_ack("rcv_fin", True, 60001, 1))
    bare_a.lines[1].verdicts, bare_b.lines[1].verdicts = [], []
    assert parting(bare_a, bare_b) == 2
    said = summary(script, bare_a, bare_b)
    assert said[0].startswith("== the runs part at line 3 (+0 > . 1:1(0) ack 2): A ok, sent . 1:1(0) ack 60002")
    assert said[1] == (
        "   the kernels' own counters differ at line 2 (+0 < F. 1:1(0) ack 1 win 257): "
        "A TcpExt.TCPRcvCoalesce +1 | B TcpExt.TCPZeroWindowDrop +1"
    )


def _injected(counted: bool) -> dict[int, dict[str, int]]:
    run = ScriptRun(RunOptions(str(PKT / "close_unread.pkt"), tolerance_usecs=14000, counted=counted))
    try:
        return {e.line: e.counters for e in run.events() if isinstance(e, LineEvent) and e.kind == "inject"}
    finally:
        run.close()


def test_injected_lines_carry_the_kernels_counters_when_asked():
    """The namespace's own counters around each injected segment: the SYN is one segment in and
    one (the SYN-ACK) out; a plain run reads none, and its JSON lines carry no counters."""
    counted = _injected(True)
    assert sorted(counted) == [14, 16, 18], counted
    assert counted[14]["Tcp.InSegs"] == 1 and counted[14]["Tcp.OutSegs"] == 1, counted
    assert counted[16]["Tcp.PassiveOpens"] == 1, counted
    assert _injected(False) == {14: {}, 16: {}, 18: {}}
    out = cli("run", str(PKT / "close_unread.pkt"), "--json", "--tolerance-usecs", "14000")
    lines = [e for e in map(json.loads, out.stdout.splitlines()) if e["type"] == "line"]
    assert lines and not any("counters" in e for e in lines), out.stdout


def test_one_script_on_the_host_twice_decides_alike():
    out = cli("compare", str(PKT / "close_unread.pkt"), "--kernel", "host", "--kernel", "host", "--tolerance-usecs", "14000")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == "== the two kernels decided alike on every line", out.stdout
    host = f"host Linux {platform.release()}: every line held (exit 0)"
    assert f"#   A: {host}" in lines and f"#   B: {host}" in lines, out.stdout
    assert sum("close() -> RST [data_was_unread]" in ln for ln in lines) == 1, out.stdout


def test_a_script_compare_takes_two_kernels_in_one_line():
    for args in (["--kernel", "host"], ["other.pkt", "--kernel", "host", "--kernel", "host"]):
        out = cli("compare", str(PKT / "close_unread.pkt"), *args)
        assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr
        assert "compare takes one .pkt script and two --kernel" in out.stderr


@pytest.mark.guest
def test_a_script_on_the_host_and_a_guest_kernel():
    k = _kernel_with_tun()
    out = cli("compare", str(PKT / "close_unread.pkt"), "--kernel", "host", "--kernel", k.label, *SLOW, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert any(ln.startswith(f"#   B: guest Linux {k.version} ({k.release}, QEMU") for ln in lines), out.stdout
    assert sum("every line held (exit 0)" in ln for ln in lines[:6]) == 2, out.stdout
    assert lines[-1] == "== the two kernels decided alike on every line", out.stdout


@pytest.mark.guest
def test_a_zero_window_fin_parts_the_host_and_6_1():
    k = _kernel_with_tun()
    assert kernel_version(k.version) < BARE_FIN_ACCEPTED
    script = PKT / "zero_window_fin.pkt"
    out = cli("compare", str(script), "--kernel", "host", "--kernel", k.label, *SLOW, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    host_acks = "60002" if kernel_version(platform.release()) >= BARE_FIN_ACCEPTED else "60001"
    if host_acks == "60001":
        assert lines[-1] == "== the two kernels decided alike on every line", out.stdout
        return
    # Each side's receipt verdict under the injected FIN, then the counters: the host took it
    # (tcp_data_queue()'s bare-FIN exception, tcp_fin()); 6.1 dropped it in the zero-window
    # branch, and its kernel counts the drop (LINUX_MIB_TCPZEROWINDOWDROP). Both predictions held.
    at = lines.index("   21              +0 < F. 60001:60001(0) ack 1 win 257  <<")
    a_verdict, a_counters, b_verdict, b_counters = lines[at + 1 : at + 5]
    assert a_verdict.startswith("       A ok        inject() -> ACK [rcv_fin]: inject -> ACK, CLOSE_WAIT: "), out.stdout
    assert a_counters.startswith("                   counters ") and "TCPZeroWindowDrop" not in a_counters, out.stdout
    assert b_verdict.startswith("       B ok        inject() -> ACK [rcv_zero_window]: inject -> ACK, ESTABLISHED: "), out.stdout
    assert b_counters == "                   counters TcpExt.TCPZeroWindowDrop +1", out.stdout
    assert "PREDICTED" not in a_verdict + b_verdict and "TCPZeroWindowDrop +1" in b_verdict, out.stdout
    # The ACK each kernel sent back is the one the next > line took: that line held on one, failed on the other.
    part = lines.index("   22              +0 > . 1:1(0) ack 60002 win 0")
    assert lines[part + 1] == "       A ok        sent . 1:1(0) ack 60002 win 0", out.stdout
    assert lines[part + 2] == "       B FAIL      sent . 1:1(0) ack 60001 win 0", out.stdout
    failed = f"{script}:22: error handling packet: expected . 1:1(0) ack 60002 win 0 got . 1:1(0) ack 60001"
    assert lines[part + 3].strip().startswith(failed), out.stdout
    assert "took the kernel's rcv_zero_window branch" in lines[part + 3], out.stdout
    # The kernels part where they decided otherwise: the FIN's line, each with its branch.
    said = lines[-1]  # the parting line's counters are in it: no second line repeats them
    assert said.startswith("== the runs part at line 21 (+0 < F. 60001:60001(0) ack 1 win 257): A ok, inject() took rcv_fin; ")
    assert said.endswith("| B ok, inject() took rcv_zero_window; counters TcpExt.TCPZeroWindowDrop +1"), out.stdout
