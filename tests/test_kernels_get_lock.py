"""Two `kernels get` of one line at once (two terminals, two `scripts/setup.sh test`): the second
waits for the first instead of deleting and rewriting the same directory under it (seen: one died
on FileExistsError in the middle of the other's install)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

from tests.conftest import ROOT


def test_a_second_get_of_a_line_waits_for_the_first(tmp_path):
    kernels = tmp_path / "tuiexplore" / "kernels"
    kernels.mkdir(parents=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    with open(kernels / ".6.1.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the first get, still fetching
        p = subprocess.Popen(
            [sys.executable, "-m", "tuiexplore", "kernels", "get", "6.1", "--no-source"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
        )  # fmt: skip
        try:
            assert p.stderr is not None
            line = p.stderr.readline()  # the first thing it says: that it waits
            assert "another 'kernels get 6.1' is fetching into" in line and "waiting for it to end" in line, line
            time.sleep(0.2)
            assert p.poll() is None  # still waiting, and it has touched nothing
            assert sorted(x.name for x in kernels.iterdir()) == [".6.1.lock"]
            assert not (tmp_path / "tuiexplore" / "apt").exists()
        finally:
            p.kill()
            p.wait()
