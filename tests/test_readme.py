"""The README as a new user meets it: a front page of at most ~200 lines with the app's own
screenshot and links that lead somewhere, and every command in it runs as written. The ones that
open a screen, run until stopped or install system packages are named in NOT_RUN with why; any
other command in the README is run, so a new one is either run here or said to be interactive."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent  # the venv's tuiexplore, pipx and uv

NOT_RUN = {
    "scripts/run.sh": "installs, then opens the explorer",
    "scripts/test.sh": "the whole suite, this test among it",
    "tuiexplore": "opens the explorer",
    "tuiexplore step -- ./myclient localhost 8080": "opens the step screen on your own program",
    "sudo tuiexplore watch --port 8080": "watches live traffic until stopped",
    "tuiexplore --kernel 6.1": "boots a QEMU guest and opens the explorer",
    "tuiexplore demo": "plays in the explorer until stopped",
    "tuiexplore serve": "serves until stopped",
    "tuiexplore quiz": "opens the explorer on the first lesson",
}


def commands() -> list[str]:
    """Every line of the README's indented code blocks, without its `# comment`."""
    return [
        re.split(r"\s+# ", line.strip(), maxsplit=1)[0]
        for line in README.splitlines()
        if line.startswith("    ") and line.strip()
    ]


def test_the_front_page_is_short_and_shows_the_app():
    assert len(README.splitlines()) <= 200
    assert "](docs/screenshot.svg)" in README
    svg = (ROOT / "docs" / "screenshot.svg").read_text()
    assert svg.startswith("<svg") and "data_was_unread" in svg and "prediction&#160;held" in svg  # drawn by the app
    for target in re.findall(r"\]\(([^)#]+)", README):
        assert (ROOT / target).exists(), target


def test_every_command_is_run_or_said_why_not():
    cmds = commands()
    assert set(NOT_RUN) <= set(cmds), set(NOT_RUN) - set(cmds)  # no stale entries
    assert len(cmds) - len(NOT_RUN) >= 5


@pytest.mark.parametrize("cmd", [c for c in commands() if c not in NOT_RUN])
def test_readme_command_runs_as_written(cmd, tmp_path):
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        # the tool installs go to a temporary place, not the user's ~/.local
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
        "UV_TOOL_DIR": str(tmp_path / "uv"),
        "UV_TOOL_BIN_DIR": str(tmp_path / "bin"),
    }
    proc = subprocess.run(cmd, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd}: {proc.stderr[-2000:]}"
    if cmd.endswith("install ."):  # the tool it put on PATH runs
        installed = subprocess.run([str(tmp_path / "bin" / "tuiexplore"), "list"], capture_output=True, text=True, timeout=60)
        assert installed.returncode == 0 and "seed-rst" in installed.stdout, installed.stderr
