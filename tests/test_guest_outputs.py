"""--pcap and --export with --kernel: the guest's root is read-only, so the agent sends the pcap
bytes over the lab protocol and the app writes the files."""

import subprocess

import pytest
from conftest import cli
from test_guest import _kernel

from tuiexplore.reports.export import FILES


@pytest.mark.guest
def test_pcap_and_export_from_a_guest(tmp_path):
    k = _kernel()
    pcap, bundle = tmp_path / "seed.pcap", tmp_path / "bundle"
    out = cli("run", "seed-rst", "--kernel", k.label, "--pcap", str(pcap), "--export", str(bundle), timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"pcap written to {pcap}" in out.stdout
    dump = subprocess.run(["tcpdump", "-nn", "-r", str(pcap)], capture_output=True, text=True)
    assert dump.returncode == 0, dump.stderr
    packets = dump.stdout.splitlines()
    assert any("Flags [R.]" in line for line in packets), dump.stdout
    summary = next(ln for ln in out.stdout.splitlines() if ln.startswith("# ") and " packets captured" in ln)
    assert len(packets) == int(summary[2:].split(" packets captured")[0])  # every frame the lab saw
    for name in FILES:
        if name == "session.cast":  # what a terminal showed: only the explorer's ctrl+e has one
            assert not (bundle / name).exists()
        elif name != "diagram.svg" or (bundle / name).exists():  # the diagram only when the run drew one
            assert (bundle / name).stat().st_size > 0, name
    assert (bundle / "capture.pcap").read_bytes() == pcap.read_bytes()
    assert f"guest Linux {k.version}" in (bundle / "transcript.md").read_text()
