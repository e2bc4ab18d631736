"""A guest's last words: a kernel crash is named and its console kept; otherwise the last line."""

import io

from tuiexplore.guest import console

PANIC = """\
[    2.10] virtio_blk virtio1: 1/0/0 default/read/poll queues
[    2.95] BUG: kernel NULL pointer dereference, address: 0000000000000008
[    2.95] #PF: supervisor read access in kernel mode
[    2.95] RIP: 0010:virtqueue_get_buf_ctx+0x2a/0x1f0
[    2.95] Kernel panic - not syncing: Fatal exception in interrupt
"""


def test_a_kernel_crash_is_named_and_the_console_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    said = console.last_words(io.StringIO(PANIC))
    assert said.startswith("the guest kernel crashed: BUG: kernel NULL pointer dereference, address: 0000000000000008")
    assert "RIP: 0010:virtqueue_get_buf_ctx+0x2a/0x1f0" in said
    kept = tmp_path / "tuiexplore" / "guest-console.log"
    assert str(kept) in said and kept.read_text() == PANIC


def test_without_a_crash_the_last_line_is_said(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert console.last_words(io.StringIO("booting\nagent: cannot open lo\n\n")) == "agent: cannot open lo"
    assert not (tmp_path / "tuiexplore").exists()
