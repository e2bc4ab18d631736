"""scripts/serve_screenshot.py in real headless Chromium: the picture is taken at the scenario's
end (n pressed in the page up to the last step), with the key footer filled: a headless page
has no focus, and without it the app leaves its footer empty."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium (apt-get install chromium)")


def test_the_photo_is_the_scenarios_end_with_its_footer(tmp_path):
    out = tmp_path / "serve.png"
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "serve_screenshot.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr
    path, said = r.stdout.splitlines()
    assert path == str(out)
    step, footer = said.strip().split(" · footer: ")
    assert step == "step 15/15"
    assert footer.startswith("n Next step r Restart"), footer
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1600, 1000)
