"""packetdrill scripts read by the project's own reader: the language, its errors, and safety.

The scripts here are the project's own (tests/data/pkt/), written to cover the syntax the
kernel's teardown selftests use; the selftests themselves are read from a Linux tree, never
committed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuiexplore.packetdrill.parser import parse
from tuiexplore.packetdrill.script import (
    BitOr,
    Code,
    Command,
    Ellipsis_,
    Int,
    List,
    ScriptError,
    Struct,
    Syscall,
    TcpPacket,
    TimeKind,
    Word,
)
from tuiexplore.packetdrill.shell import SELFTEST_DEFAULTS, translate
from tuiexplore.packetdrill.tcpinfo import evaluate

DATA = Path(__file__).parent / "data" / "pkt"


def read(name: str, **defines: str):  # noqa: ANN201
    return parse((DATA / name).read_text(), defines)


def test_a_server_script_reads_into_events_with_their_lines_and_times() -> None:
    s = read("close_unread.pkt")
    assert s.option("mss") == "1000" and s.option("tolerance_usecs") == "10000"
    assert s.init_command is not None and "defaults.sh" in s.init_command.text
    kinds = [type(e.action).__name__ for e in s.events]
    assert kinds.count("Syscall") == 6 and kinds.count("TcpPacket") == 6 and kinds.count("Code") == 1
    first = s.events[0]
    assert (first.line, first.time.kind, first.time.usecs) == (9, TimeKind.ABSOLUTE, 0)
    assert first.source == "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3"
    third_packet = [e for e in s.events if isinstance(e.action, TcpPacket)][2]
    assert third_packet.time == third_packet.time.__class__(TimeKind.RELATIVE, 100_000)
    synack = s.events[5].action
    assert isinstance(synack, TcpPacket) and not synack.inbound and synack.options is None  # <...>
    data = s.events[8].action
    assert isinstance(data, TcpPacket) and data.inbound
    assert (data.flags, data.start_seq, data.end_seq, data.payload, data.ack, data.win) == ("P.", 1, 11, 10, 1, 257)
    window = s.events[9]
    assert window.time.kind is TimeKind.RELATIVE_RANGE and window.time.end_usecs == 40_000
    rst = s.events[-1].action
    assert isinstance(rst, TcpPacket) and (rst.flags, rst.ack, rst.win) == (
        "R.",
        11,
        None,
    )  # an active RST carries its real window: not checked
    sockopt = s.events[1].action
    assert isinstance(sockopt, Syscall) and sockopt.args[3] == List((Int(1, "1"),))


def test_client_syntax_blocking_calls_errnos_options_macros_ranges_and_star() -> None:
    s = read("client_tfo.pkt", COOKIE="a1b2c3d4")
    sock = s.events[0].action
    assert isinstance(sock, Syscall) and sock.args[1] == BitOr((Word("SOCK_STREAM"), Word("SOCK_NONBLOCK")))
    connect = s.events[2].action
    assert isinstance(connect, Syscall) and connect.errno == "EINPROGRESS"
    assert connect.note == "Operation now in progress" and connect.result == Int(-1, "-1")
    syn = s.events[3].action
    assert isinstance(syn, TcpPacket) and syn.options is not None
    assert [o.kind for o in syn.options] == ["mss", "sackOK", "TS", "nop", "wscale"]
    assert (syn.options[2].val, syn.options[2].ecr) == (100, 0)
    synack = s.events[4].action
    assert isinstance(synack, TcpPacket) and synack.options is not None
    assert synack.options[-1].kind == "FO" and synack.options[-1].cookie == "a1b2c3d4"  # -D COOKIE=...
    blocking = s.events[6]
    assert isinstance(blocking.action, Syscall) and blocking.action.end_usecs == 300_000
    assert blocking.time.kind is TimeKind.ABSOLUTE and blocking.time.usecs == 200_000
    assert blocking.action.args[1] == Ellipsis_()
    linger = s.events[7].action
    assert isinstance(linger, Syscall)
    assert linger.args[3] == Struct((("onoff", Int(1, "1")), ("linger", Int(0, "0"))))
    ranged = s.events[9].time
    assert (ranged.kind, ranged.usecs, ranged.end_usecs) == (TimeKind.ABSOLUTE_RANGE, 300_000, 500_000)
    assert s.events[10].time.kind is TimeKind.ANY
    assert s.cleanup_command == Command("restore.sh")


def test_ipv6_addresses_hex_and_comments_are_cut_as_packetdrill_cuts_them() -> None:
    s = parse("--local_ip=fd3d:fa7b:d17d::1\n--remote_ip=192.0.2.1\n0 socket(..., 0x10, 6) = 3 // x\n/* y */")
    assert [(o.name, o.value) for o in s.options] == [("local_ip", "fd3d:fa7b:d17d::1"), ("remote_ip", "192.0.2.1")]
    call = s.events[0].action
    assert isinstance(call, Syscall) and call.args[1] == Int(16, "0x10")


@pytest.mark.parametrize(
    ("text", "line", "col", "words"),
    [
        ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < udp (100)\n", 2, 6, "UDP packets are not supported"),
        ("0 < S 0:10(0) win 1\n", 1, 13, "inconsistent TCP sequence numbers"),
        ("* close(3) = 0\n", 1, 1, "<star> can only be used with outbound packets"),
        ("+0~+.1 < S 0:0(0) win 1\n", 1, 1, "range can only be used with outbound packets"),
        ("0 < S 0:0(0) win 1 <...>\n", 1, 20, "<...> for TCP options can only be used with outbound"),
        ("0 < S 0:0(0) win 70000\n", 1, 18, "a window out of range"),
        ('0 write(3, "abc, 3) = 3\n', 1, 12, "unterminated string"),
        ("0 close(3) = 0\n+0 > F. 1:1(0) ack 1 <FO xyz>\n", 2, 23, "FO cookie is not a valid hex string"),
        ("0 close(3)\n", 2, 1, "expected '=' and the expected result of close()"),
        ("+0.1 > Q 0:0(0)\n", 1, 8, "expected TCP flags"),
        ("0 < [ttl 3] S 0:0(0) win 1\n", 1, 11, "IP header fields (ttl 3) are not supported"),
        ("// nothing\n", 2, 1, "the script has no events"),
        ("0 < ipv4 192.0.2.1 > 192.0.2.2: S 0:0(0)\n", 1, 5, "explicit IPv4 headers (a second host)"),
        ("0 < 5000 > 80 S 0:0(0)\n", 1, 5, "explicit ports are not supported"),
    ],
)
def test_bad_scripts_name_line_column_and_the_construct(text: str, line: int, col: int, words: str) -> None:
    with pytest.raises(ScriptError) as e:
        parse(text)
    assert (e.value.line, e.value.col) == (line, col), e.value.where("x.pkt")
    assert words in e.value.message
    assert e.value.where("x.pkt").startswith(f"x.pkt:{line}:{col}: ")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list('0+.~*<>SF.R:()[]{},=`%"/ \n-abcx19') + ["...", "ack ", "win ", "close(3)"])))
def test_any_text_reads_or_fails_with_a_located_error(pieces: list[str]) -> None:
    text = "".join(pieces)
    try:
        script = parse(text)
    except ScriptError as e:
        assert e.line >= 1 and e.col >= 1 and e.message
    else:
        assert script.events


def test_backticks_become_lab_sysctls_and_everything_else_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = (
        f"`./defaults.sh\n sysctl -q net.ipv4.tcp_timestamps=0 ; touch {marker}`\n"
        "0 close(3) = 0\n+0 `echo 1 > /proc/sys/net/ipv4/tcp_rfc1337`\n"
    )
    s = parse(text)
    plan = translate(s.init_command.text if s.init_command else "", s.init_line)
    command = s.events[1].action
    assert isinstance(command, Command)
    translate(command.text, s.events[1].line, plan)
    names = [x.name for x in plan.settings]
    assert names[: len(SELFTEST_DEFAULTS)] == [n for n, _ in SELFTEST_DEFAULTS]
    assert ("net.ipv4.tcp_timestamps", "0", 2) in [(x.name, x.value, x.line) for x in plan.settings]
    assert ("net.ipv4.tcp_rfc1337", "1", 4) in [(x.name, x.value, x.line) for x in plan.settings]
    assert [(r.line, r.text) for r in plan.refused] == [(2, f"touch {marker}")]
    assert not marker.exists()


@pytest.mark.parametrize(
    "command",
    [
        "sysctl -q kernel.core_pattern=|/tmp/x",  # not a network setting: the host's
        "set_sysctls.py /proc/sys/net/../kernel/x=1",
        "sysctl -p /etc/sysctl.conf",
        "./defaults.sh --evil",
        "sysctl -q net.ipv4.tcp_rmem=$(id)",
    ],
)
def test_shell_that_only_looks_like_a_setting_is_refused(command: str) -> None:
    plan = translate(command, 7)
    assert not plan.settings and [r.line for r in plan.refused] == [7]


def test_tcpinfo_asserts_are_evaluated_without_exec() -> None:
    held = evaluate("assert (tcpi_options & TCPI_OPT_SYN_DATA) != 0, tcpi_options", {"tcpi_options": 32})
    assert held.ok is True
    failed = evaluate("assert tcpi_state == TCP_CLOSE_WAIT, tcpi_state", {"tcpi_state": 7})
    assert failed.ok is False and "tcpi_state=7" in failed.text
    assert evaluate("import os; os.system('touch /tmp/x')", {}).ok is None
    assert evaluate("assert __import__('os').system('true') == 0", {}).ok is None
    assert evaluate("assert 1 << 99999999999", {}).ok is None


def test_code_blocks_keep_their_text_for_the_evaluator() -> None:
    s = read("close_unread.pkt")
    code = [e.action for e in s.events if isinstance(e.action, Code)]
    assert code == [Code("assert tcpi_state == TCP_ESTABLISHED, tcpi_state")]
    assert evaluate(code[0].text, {"tcpi_state": 1}).ok is True
