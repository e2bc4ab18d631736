"""The relay's wire inside a QEMU guest kernel: the guest loads veth from the kernel's own modules
(kept by `kernels get`), and a kernel without it is one line before any boot."""

import json

import pytest
from conftest import cli

from tuiexplore.guest import catalog


def _kernel_with_veth() -> catalog.Kernel:
    # veth for the wire and bridge for the sides no rule controls (the test asserts the bridge is
    # made): a line fetched by hand before bridge was kept (a 5.10 here) must not be the one taken.
    k = next((k for k in catalog.cached() if k.ships("veth") and k.ships("bridge")), None)
    assert k is not None, "no cached guest kernel carries veth and bridge: scripts/setup.sh test fetches 6.1 again with them"
    return k


@pytest.mark.guest
def test_crossing_fins_through_the_relay_on_a_guest_kernel():
    """The held FIN and CLOSING happen in the guest's kernel, through its veth pairs."""
    k = _kernel_with_veth()
    out = cli("run", "crossing-fins", "--kernel", k.label, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    header = next(ln for ln in out.stdout.splitlines() if ln.startswith("# guest Linux"))
    assert f"guest Linux {k.version}" in header and "relay wire" in header, header
    assert "client sock: FIN_WAIT1 -> CLOSING" in out.stdout
    assert "[relay: held #4]" in out.stdout and "release() = 0 released #4" in out.stdout
    assert "cannot make the bridge" not in out.stdout  # the guest loaded bridge at boot (fetch.LAB_MODULES)
    # The guest's sock_diag lookups work (tcp_diag loaded at boot): the TIME_WAIT sockets are
    # found; without them every socket read as gone ("LISTEN -> CLOSE" for a live listener).
    assert "server conn: FIN_WAIT2 -> TIME_WAIT (tcp_info)" in out.stdout
    assert "listener: LISTEN -> CLOSE" not in out.stdout


@pytest.mark.guest
def test_a_builtin_gives_the_same_verdict_through_the_relay_on_a_guest_kernel():
    k = _kernel_with_veth()
    out = cli("run", "seed-rst", "--kernel", k.label, "--wire", "relay", timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "relay wire" in next(ln for ln in out.stdout.splitlines() if ln.startswith("# guest Linux"))
    assert "predicted RST [data_was_unread], observed RST - agrees" in out.stdout


def _cached_kernel(d, modules: list[str], builtin: list[str] | None) -> str:
    """A kernel directory as `kernels get` leaves it (its vmlinuz a stand-in: never booted here)."""
    (d / "modules").mkdir(parents=True)
    for i, name in enumerate(modules):
        (d / "modules" / f"{i:02d}-{name}.ko").write_bytes(b"\x7fELF")
    if builtin is not None:
        (d / catalog.BUILTIN).write_text("".join(f"kernel/{m}.ko\n" for m in builtin))
    (d / "vmlinuz").write_bytes(b"not booted")
    meta = {"label": "6.1", "release": "6.1.0-50-cloud-amd64", "version": "6.1.176", "package": "p", "path": str(d), "image": ""}
    (d / "kernel.json").write_text(json.dumps(meta))
    return str(d / "vmlinuz")


def test_a_guest_kernel_without_veth_is_one_line_before_any_boot(tmp_path):
    """Cached before the relay (no modules.builtin kept, no veth.ko): fetch it again. Known to
    have no veth at all: said so. Either way one line, said before a guest boots."""
    old = _cached_kernel(tmp_path / "old", ["virtio_console"], None)
    out = cli("run", "crossing-fins", "--kernel", old)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "needs veth" in out.stderr and "'tuiexplore kernels get 6.1' fetches it again" in out.stderr
    none = _cached_kernel(tmp_path / "none", ["virtio_console"], ["drivers/net/virtio_net"])
    out = cli("run", "seed-rst", "--wire", "relay", "--kernel", none)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Linux 6.1.176 has none (neither built in nor a module)" in out.stderr


def test_which_guest_kernels_carry_veth(tmp_path):
    loaded = catalog.from_vmlinuz(_cached_kernel(tmp_path / "a", ["virtio_console", "veth"], None))
    built_in = catalog.from_vmlinuz(_cached_kernel(tmp_path / "b", [], ["drivers/net/veth"]))
    old = catalog.from_vmlinuz(_cached_kernel(tmp_path / "c", ["virtio_console"], None))
    assert (loaded.ships("veth"), built_in.ships("veth"), old.ships("veth")) == (True, True, None)
    assert built_in.ships("virtio_net") is False and old.fetched
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "vmlinuz-6.9.0").write_bytes(b"")
    bare = catalog.from_vmlinuz(str(tmp_path / "bare" / "vmlinuz-6.9.0"))
    assert bare.ships("veth") is None and not bare.fetched  # the guest tries, and says it in one line if it fails
