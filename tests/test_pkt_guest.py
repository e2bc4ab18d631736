"""packetdrill scripts inside a QEMU guest kernel (``run FILE.pkt --kernel LINE``): the guest loads
tun from the kernel's own modules (kept by `kernels get`) and runs the script's process on its
port, through the transport the lab's agent uses there.

Under TCG (no hardware KVM here) the guest runs the interpreter ~5-10x slower than the host, and
both its vCPUs share one host thread: a syscall alone takes tens of ms there, and with the host
at load 15-16 on its 2 cores a line started 106 to 207 ms late (100 ms failed 2 runs in 3).
The runs give the scripts packetdrill's --tolerance_usecs of 500 ms: what these tests check in
a guest is the kernel's segments, verdicts and messages, which no tolerance loosens.
"""

import asyncio
import re
from pathlib import Path

import pytest
from conftest import cli
from test_guest_relay import _cached_kernel
from test_pkt_tui import until

from tuiexplore.guest import catalog, fetch
from tuiexplore.guest.machine import Guest
from tuiexplore.packetdrill.client import RunOptions
from tuiexplore.packetdrill.command import check
from tuiexplore.tui.pkt_app import PktApp

PKT = Path(__file__).parent / "data" / "pkt"
SLOW = ("--tolerance-usecs", "500000")
SLOW_USECS = int(SLOW[1])


def _kernel_with_tun() -> catalog.Kernel:
    k = next((k for k in catalog.cached() if k.ships("tun")), None)
    assert k is not None, "no cached guest kernel carries tun: scripts/setup.sh test fetches 6.1 again with it"
    return k


@pytest.mark.guest
def test_a_script_runs_in_a_guest_kernel():
    k = _kernel_with_tun()
    out = cli("run", str(PKT / "close_unread.pkt"), "--kernel", k.label, *SLOW, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    first = out.stdout.splitlines()[0]
    assert f"the script runs in a guest Linux {k.version} ({k.release}" in first, first
    assert "# every line held (exit 0)" in out.stdout
    assert "verdict  close() -> RST, predicted RST (held); branch data_was_unread" in out.stdout
    assert re.search(r"sent +R\. 1:1\(0\) ack 11", out.stdout), out.stdout


@pytest.mark.guest
def test_a_failing_line_fails_in_the_guest_as_on_the_host(tmp_path):
    """The same exit status and packetdrill message; the script is in /tmp, which the guest's own
    tmpfs hides: its text travels to the guest with the run's options."""
    k = _kernel_with_tun()
    wrong = tmp_path / "wrong.pkt"
    wrong.write_text((PKT / "close_unread.pkt").read_text().replace("+0 > R. 1:1(0) ack 11", "+0 > F. 1:1(0) ack 11"))
    host = cli("run", str(wrong), *SLOW)
    guest = cli("run", str(wrong), "--kernel", k.label, *SLOW, timeout=240)
    assert host.returncode == guest.returncode == 1, host.stderr + guest.stderr
    expected = f"{wrong}:22: error handling packet: expected F. 1:1(0) ack 11"
    for out in (host, guest):
        (line,) = out.stderr.splitlines()
        assert line.startswith(expected) and " got R. 1:1(0) ack 11" in line, line
        assert "close() took the kernel's data_was_unread branch" in line, line
        assert "   22  FAIL  +0 > F. 1:1(0) ack 11" in out.stdout


def test_a_guest_kernel_without_tun_is_one_line_before_any_boot(tmp_path):
    """Cached before scripts ran in guests (no tun.ko kept): fetch it again. Known to have no
    tun at all: said so. Either way one line, before a guest boots."""
    script = str(PKT / "close_unread.pkt")
    old = _cached_kernel(tmp_path / "old", ["virtio_console", "veth"], None)
    out = cli("run", script, "--kernel", old)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and not out.stdout, out.stderr
    assert "a packetdrill script's device needs tun, which the cached Linux 6.1.176 does not carry" in out.stderr
    assert "'tuiexplore kernels get 6.1' fetches it again" in out.stderr
    none = _cached_kernel(tmp_path / "none", ["virtio_console"], ["drivers/net/veth"])
    out = cli("run", script, "--kernel", none)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and not out.stdout, out.stderr
    assert "needs tun, and Linux 6.1.176 has none (neither built in nor a module)" in out.stderr
    out = cli(script, "--kernel", none)  # the explorer: the same line, before its screen
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and not out.stdout, out.stderr
    assert "needs tun, and Linux 6.1.176 has none (neither built in nor a module)" in out.stderr
    built_in = catalog.from_vmlinuz(_cached_kernel(tmp_path / "b", [], ["drivers/net/tun"]))
    assert built_in.ships("tun") is True


@pytest.mark.guest
def test_the_explorer_steps_a_script_run_in_a_guest_kernel():
    asyncio.run(_explore_in_guest())


async def _explore_in_guest() -> None:
    k = _kernel_with_tun()
    path = str(PKT / "close_unread.pkt")
    guest = Guest(k)
    app = PktApp(RunOptions(path, tolerance_usecs=SLOW_USECS), check(path, {}).script, guest)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.status_code is not None, timeout=180)
        assert app.status_code == 0 and app.said[0].startswith(f"the script runs in a guest Linux {k.version} ({k.release}")
        for _ in app.script.events:
            await pilot.press("n")
        assert set(app.marks.values()) == {"held"}
        assert "  verdict: close() -> RST, predicted RST (held); branch data_was_unread" in "\n".join(app.said)


def test_a_line_without_tun_is_fetched_and_says_so_in_one_line(tmp_path):
    """`kernels get` keeps the lab's modules a line ships; one it lacks is one line, not a failed fetch."""
    release = "6.1.0-50-cloud-amd64"
    tree, mods = tmp_path / "tree", tmp_path / "tree" / "lib" / "modules" / release
    (tree / "boot").mkdir(parents=True)
    (tree / "boot" / f"vmlinuz-{release}").write_bytes(b"not booted")
    mods.mkdir(parents=True)
    (mods / catalog.BUILTIN).write_text("kernel/drivers/virtio/virtio_pci.ko\nkernel/fs/fuse/virtiofs.ko\n")
    deps = {"virtio_console": "", "veth": "", "inet_diag": "", "tcp_diag": "inet_diag"}
    for name, dep in deps.items():
        (mods / f"{name}.ko").write_bytes(b"\x7fELF\0depends=" + dep.encode() + b"\0")
    said: list[str] = []
    k = fetch._install(tree, tmp_path / "6.1", "6.1", "6.1.176", "linux-image-x", said.append)
    assert [p.name for p in sorted(Path(k.modules).iterdir())] == [
        "00-virtio_console.ko", "01-veth.ko", "02-inet_diag.ko", "03-tcp_diag.ko",
    ]  # fmt: skip
    assert "Linux 6.1.176 has no tun module (neither built in nor shipped): packetdrill scripts cannot run in it" in said
    assert k.ships("tun") is False and k.ships("veth") is True
