"""What a written script needs to replay on the kernel that wrote it (the replays themselves:
test_pkt_write's READ_BACK): from the runner, the device's MTU from the script's --mtu, a blocking
call's return timed against its own wait, epoll calls, a closing call judged on what it sent
before it returned; from the writer, a timer's slack after the lab waited for it. And every
built-in's script from each other side replays too."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from test_pkt_run import DATA, SLOW, pkt
from test_pkt_write import (
    _replay_cannot_connect_to_itself,
    _session,
    check_read_back,
    connected_to_itself,
    replay,
    replayed,
)

from tuiexplore.packetdrill.writer import LATER, actors, script_side
from tuiexplore.reports.export import pkt_text
from tuiexplore.scenarios.scenario import builtin_names
from tuiexplore.timeline import VerdictEvent


def test_the_scripts_mtu_is_the_devices_so_the_kernel_advertises_its_mss() -> None:
    r = pkt(str(DATA / "mtu.pkt"), SLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"sent +S\. 0:0\(0\) ack 1 win \d+ <mss 8960,nop,nop,sackOK>", r.stdout), r.stdout


def test_without_mtu_the_device_keeps_packetdrills_1500(tmp_path: Path) -> None:
    script = tmp_path / "default.pkt"
    script.write_text((DATA / "mtu.pkt").read_text().replace("--mtu=9000\n", ""))
    r = pkt(str(script), SLOW)
    assert r.returncode == 1
    got = r"got S\. 0:0\(0\) ack 1 win \d+ <mss 1460,nop,nop,sackOK> \(mss 8960 vs 1460\)"
    assert re.search(got + r"( · the injected segment took .*)?$", r.stderr), r.stderr  # then the SYN's branch


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


def test_a_line_after_a_timer_that_sent_nothing_leaves_the_timer_its_slack():
    """fin-wait2-timeout: the lab waits for the orphan's FIN_WAIT2 timer (it sends nothing), then
    the peer's FIN gets an RST. A replay must inject that FIN after the timer fired on its own
    run, which the timer wheel lets be up to 1/8 of its time late: so the FIN is written 1/8 later
    than the session sent it, and says so."""
    result = _session("fin-wait2-timeout")
    assert result.info is not None
    text = pkt_text(result.scenario, result.info, result.events)
    lines = [x for x in text.splitlines() if x and not x.startswith("// step")]
    fin = next(i for i, x in enumerate(lines) if " < F. " in x)
    said = re.fullmatch(rf"// {LATER} (\d+) ms: the lab waited (\d+) ms for a kernel timer that sent nothing", lines[fin - 1])
    assert said, lines[fin - 1]
    late, waited = int(said[1]), int(said[2])
    assert waited >= 2000 and late == -(-waited // 8)  # tcp_fin_timeout = 2 in the scenario's lab
    assert lines[fin].startswith(f"+{(waited + late) / 1000:.3f}".rstrip("0").rstrip(".") + " < F. ")
    # What follows keeps its own time after the FIN (the kernel's answer, within a few ms as the
    # session saw it; +0.001 when it came 0.5 ms or more after), not the slack given to the FIN.
    assert re.match(r"\+0(\.00\d)? > R ", lines[fin + 1]), lines[fin + 1]


def test_a_blocking_close_is_judged_on_what_it_sent_before_it_returned(tmp_path):
    """zero-window-close: close() with SO_LINGER {1, 1} gives up after 1 s, its FIN held behind
    the peer's zero window. Here the window reopens 0.3 s later than in the session, well after
    close() returned; the FIN leaves then, while the blocking call is still to be judged (at the
    script's end): the verdict is what the call sent before it returned, the session's none."""
    result = _session("zero-window-close")
    assert result.info is not None
    lines = pkt_text(result.scenario, result.info, result.events).splitlines()
    close = next(i for i, x in enumerate(lines) if "close(" in x and "..." in x.split()[0])
    reopen = next(i for i, x in enumerate(lines) if i > close and re.match(r"\+[\d.]+ < \. .* win [1-9]", x))
    when, rest = lines[reopen].split(" ", 1)
    lines[reopen] = f"+{float(when) + 0.3:.3f} {rest}"
    path = tmp_path / "later.pkt"
    path.write_text("\n".join(lines) + "\n")
    status, events, err = replay(str(path), "root" if os.geteuid() == 0 else "user")
    assert status == 0, err
    (verdict,) = [e for e in events if e["type"] == "verdict" and e["call"] != "inject"]
    session = next(v for v in result.events if isinstance(v, VerdictEvent) and v.call == "close")
    assert (verdict["observed"], verdict["branch"]) == (session.observed, session.branch) == ("none", "fin")
    assert any(e["type"] == "packet" and e["from"] == "local" and "F" in e["flags"] for e in events)  # it left later


@pytest.mark.parametrize("name", builtin_names())
def test_the_other_sides_script_replays_too(name, tmp_path):
    """The same session written from each other actor that made syscalls (the script's socket a
    server where the default made it the client, and so on) replays on this kernel, as the
    current user (the root and uid 65534 runs are the default side's, above)."""
    result = _session(name)
    assert result.info is not None
    side = script_side(result.events)
    others = [a for a in actors(result.events) if a != side]
    assert "lab" not in others  # the lab's own waits are not an actor's syscalls
    for other in others:
        path = tmp_path / f"{name}.{other}.pkt"
        path.write_text(pkt_text(result.scenario, result.info, result.events, other))
        if connected_to_itself(result.events, other):
            _replay_cannot_connect_to_itself(str(path), other, "user")
            continue
        script, _ = replayed("user")(str(path))
        check_read_back(result.events, other, script, path.read_text())


def test_an_epoll_wait_that_reports_other_events_fails_its_line(tmp_path):
    """seed-rst from the server's side: its epoll calls replay, and an epoll_wait line whose
    events are not what the kernel reported fails, naming both."""
    result = _session("seed-rst")
    assert result.info is not None
    lines = pkt_text(result.scenario, result.info, result.events, "server").splitlines()
    last = max(i for i, x in enumerate(lines) if " epoll_wait(" in x)
    assert "{events=EPOLLIN|EPOLLOUT|EPOLLERR|EPOLLHUP|EPOLLRDHUP, fd=" in lines[last]  # the peer's RST
    lines[last] = re.sub(r"\{events=[A-Z|]+,", "{events=EPOLLOUT,", lines[last])
    path = tmp_path / "wrong.pkt"
    path.write_text("\n".join(lines) + "\n")
    status, _, err = replay(str(path), "user")
    assert status == 1
    # EPOLLOUT is 4; the kernel's EPOLLIN|EPOLLOUT|EPOLLERR|EPOLLHUP|EPOLLRDHUP is 0x201d
    said = f"/wrong.pkt:{last + 1}: runtime error in epoll_wait call: Bad epoll_wait value: expected: 4 actual: 8221\n"
    assert err.endswith(said)
