"""What a written script needs from the runner to replay on the kernel that wrote it (the
replays themselves: test_pkt_write's READ_BACK): the device's MTU from the script's --mtu, and a
blocking call's return timed against its own wait, both as packetdrill does."""

from __future__ import annotations

import re
from pathlib import Path

from test_pkt_run import DATA, SLOW, pkt


def test_the_scripts_mtu_is_the_devices_so_the_kernel_advertises_its_mss() -> None:
    r = pkt(str(DATA / "mtu.pkt"), SLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"sent +S\. 0:0\(0\) ack 1 win \d+ <mss 8960,nop,nop,sackOK>", r.stdout), r.stdout


def test_without_mtu_the_device_keeps_packetdrills_1500(tmp_path: Path) -> None:
    script = tmp_path / "default.pkt"
    script.write_text((DATA / "mtu.pkt").read_text().replace("--mtu=9000\n", ""))
    r = pkt(str(script), SLOW)
    assert r.returncode == 1
    assert re.search(r"got S\. 0:0\(0\) ack 1 win \d+ <mss 1460,nop,nop,sackOK> \(mss 8960 vs 1460\)$", r.stderr), r.stderr


def test_an_mtu_no_tun_device_takes_is_one_line(tmp_path: Path) -> None:
    script = tmp_path / "big.pkt"
    script.write_text((DATA / "mtu.pkt").read_text().replace("--mtu=9000", "--mtu=65536"))
    for args in ((str(script),), (str(script), "--dry-run")):
        r = pkt(*args)
        said = f"tuiexplore: {script}:3: --mtu=65536: not an MTU a TUN device takes (68 to 65535)\n"
        assert (r.returncode, r.stderr) == (2, said)


def test_a_blocking_calls_return_is_timed_against_its_own_wait(tmp_path: Path) -> None:
    """The poll's 1 s timeout returns 0.1 s before the line's end: within 12.5% of the 1.1 s it
    blocked, though the two ACKs injected meanwhile are only 0.05 s apart."""
    r = pkt(str(DATA / "poll_wait.pkt"), "--json")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    late = tmp_path / "late.pkt"
    late.write_text((DATA / "poll_wait.pkt").read_text().replace("+0...1.1 poll", "+0...1.3 poll"))
    r = pkt(str(late))
    assert r.returncode == 1
    # 12.5% of the 1.3 s the call was given: the return, about 1.0 s in, is 0.3 s early
    said = rf"{late}:13: timing error: expected system call return at 1\.3\d+ sec but happened at 1\.0\d+ sec"
    assert re.fullmatch(said + r"; tolerance 0\.1625\d\d sec\n", r.stderr), r.stderr
