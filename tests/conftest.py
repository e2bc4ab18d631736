from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tuiexplore import runner
from tuiexplore.scenarios.scenario import parse

ROOT = Path(__file__).resolve().parent.parent

# A suite started as a background job of a script (`cmd &`) or under nohup inherits SIGINT
# ignored, and so would every program the tests start: the Ctrl-C tests would see it do nothing.
# A handler here makes their children start with the default (exec resets handled signals).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
IS_ROOT = os.geteuid() == 0
PROGS = Path(__file__).parent / "step_programs"  # the programs `tuiexplore step` tests trace


def build_c(source: str, exe: Path) -> str:
    """One of PROGS' C programs, compiled to ``exe``."""
    subprocess.run(["gcc", "-O1", "-o", str(exe), str(PROGS / source)], check=True)
    return str(exe)


@pytest.fixture(scope="module")
def c_client(tmp_path_factory) -> str:
    return build_c("client_modes.c", tmp_path_factory.mktemp("c") / "client_modes")


@pytest.fixture(scope="module")
def seed(tmp_path_factory) -> Path:
    """examples/seed built by its own Makefile, as a user would."""
    d = tmp_path_factory.mktemp("seed")
    for f in ("client.c", "server.cpp", "Makefile"):
        shutil.copy(ROOT / "examples" / "seed" / f, d / f)
    subprocess.run(["make", "-s", "-C", str(d)], check=True)
    return d


def cli(*args: str, timeout: float = 120, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    env = {**(env or os.environ), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tuiexplore", *args], capture_output=True, text=True, timeout=timeout, env=env, **kw
    )


def run_text(text: str, name: str = "unseen") -> runner.RunResult:
    return runner.run(parse(text, f"{name}.toml", name))


@pytest.fixture
def scenario_file(tmp_path):
    def make(text: str, name: str = "s.toml") -> str:
        p = tmp_path / name
        p.write_text(text)
        return str(p)

    return make


# The server half that most scenarios share.
SERVER = """
[[step]]
actor = "server"
call = "socket"
as = "l"

[[step]]
actor = "server"
call = "setsockopt"
fd = "l"
option = "SO_REUSEADDR"
value = 1

[[step]]
actor = "server"
call = "bind"
fd = "l"

[[step]]
actor = "server"
call = "listen"
fd = "l"
"""

CONNECT = """
[[step]]
actor = "client"
call = "socket"
as = "c"

[[step]]
actor = "client"
call = "connect"
fd = "c"

[[step]]
actor = "server"
call = "accept"
fd = "l"
as = "s"
"""


def steps(*parts: str, title: str = "unseen") -> str:
    return f'title = "{title}"\n' + "\n".join(parts)


def step(actor: str, call: str, **args) -> str:
    lines = ["[[step]]", f'actor = "{actor}"', f'call = "{call}"']
    for k, v in args.items():
        key = "as" if k == "as_" else k
        if isinstance(v, str):
            lines.append(f'{key} = "{v}"')
        elif isinstance(v, bool):
            lines.append(f"{key} = {'true' if v else 'false'}")
        else:
            lines.append(f"{key} = {v!r}".replace("'", '"'))
    return "\n".join(lines) + "\n"
