"""A scenario's [lab] sysctls: set in the lab's own network namespace(s), seen working by the
kernel (its timers follow them), shown in the JSON, never the host's; bad ones are one line."""

from pathlib import Path

import pytest
from conftest import CONNECT, SERVER, run_text, step, steps
from relay_world import of

from tuiexplore.lab import sysctl
from tuiexplore.lab.client import Lab
from tuiexplore.scenarios.scenario import ScenarioError, parse
from tuiexplore.timeline import NoteEvent, StateEvent, TimersEvent

HOST = Path("/proc/sys/net/ipv4/tcp_fin_timeout")
LAB = "\n[lab]\nsysctls = {{ tcp_fin_timeout = 2, tcp_keepalive_intvl = 7 }}{wire}\n"


@pytest.mark.parametrize("wire", ["", '\nwire = "relay"'])
def test_the_labs_fin_timeout_is_the_kernels_and_the_hosts_is_untouched(wire):
    host = HOST.read_text()
    r = run_text(steps(SERVER, CONNECT, step("client", "close", fd="c"), step("client", "wait")) + LAB.format(wire=wire))
    assert r.ok, r.failures
    assert HOST.read_text() == host
    assert r.info.sysctls == {"tcp_fin_timeout": 2, "tcp_keepalive_intvl": 7}
    said = [e.text for e in r.events if isinstance(e, NoteEvent) and e.text.startswith("lab sysctls")]
    assert said == [
        "lab sysctls (the lab's own namespace; the host's are untouched): "
        "net.ipv4.tcp_fin_timeout = 2, net.ipv4.tcp_keepalive_intvl = 7"
    ]
    (fw2,) = of(r, TimersEvent, 8)[0].timers
    assert fw2["kind"] == "fin_wait2" and 1000 < fw2["due_ms"] <= 2000  # the kernel's timer, from 2 s
    assert ("FIN_WAIT2", "CLOSE") in [(e.old, e.new) for e in of(r, StateEvent, 9) if e.actor == "client"]


def test_a_sysctl_the_lab_cannot_set_is_one_warning_and_the_lab_goes_on():
    events = []
    with Lab(on_batch=events.extend) as lab:
        # A packetdrill script's are strings too (h-pktrun's backtick lines): the same setter.
        wanted = {"tcp_no_such_sysctl": 1, "tcp_fin_timeout": 3, "net.ipv4.tcp_rmem": "4096 65536 1048576"}
        info = lab.start(["server"], sysctls=wanted)
        assert lab.step(1, "server", "socket", {"as": "l"}).ok
    assert info.sysctls == {"tcp_fin_timeout": 3, "net.ipv4.tcp_rmem": "4096 65536 1048576"}
    warned = [e.text for e in events if isinstance(e, NoteEvent) and e.level == "warn"]
    assert warned == [
        "lab sysctls: net.ipv4.tcp_no_such_sysctl: this kernel has no such sysctl (for the lab's namespace); "
        "the lab goes on without it"
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("sysctls = { tcp_tw_reuse = 1 }", "lab: field 'sysctls': unknown sysctl 'tcp_tw_reuse' (settable: tcp_fin_timeout,"),
        ("sysctls = { tcp_fin_timeout = 0 }", "lab: field 'sysctls': tcp_fin_timeout: must be an integer from 1 to 600"),
        ('sysctls = { tcp_rfc1337 = "on" }', "lab: field 'sysctls': tcp_rfc1337: must be an integer from 0 to 1"),
        ("sysctls = 2", "lab: field 'sysctls': must be a table of sysctl = integer"),
    ],
)
def test_a_bad_sysctl_in_the_file_is_one_line(table, message):
    with pytest.raises(ScenarioError) as exc:
        parse(steps(SERVER) + f"\n[lab]\n{table}\n", "s.toml", "s")
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_write_refuses_a_name_outside_net():
    assert sysctl.full_name("kernel.hostname") == "net.ipv4.kernel.hostname"  # a short name is under net.ipv4
    with pytest.raises(sysctl.SysctlError, match="not a net.* sysctl name"):
        sysctl.write("net.ipv4/../../kernel/hostname", "x")
