"""What a headless run does not import on its way to the lab: tarfile, and hashlib (OpenSSL), when
no kernel source is there to read, psutil to name the lab's processes. Each check runs in a
fresh interpreter, so that nothing imported by the test session hides an import."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_after(code: str, *modules: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {list(modules)!r} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    return out.stdout.split()


def test_no_kernel_source_found_imports_no_tar_codecs_or_hashing(tmp_path):
    where = f"lib_modules={str(tmp_path)!r}, usr_src={str(tmp_path)!r}"
    code = f"from tuiexplore.kernel.source import discover\nassert discover(env={{}}, {where}).origin"
    assert imported_after(code, "tarfile", "hashlib") == []


def test_a_kernel_tree_found_reads_it_without_tarfile(tmp_path):
    tree = tmp_path / "linux"
    (tree / "net" / "ipv4").mkdir(parents=True)
    (tree / "net" / "ipv4" / "tcp.c").write_text("int x;\n")  # no tcp_close(): read, found unusable
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    code = f"from tuiexplore.kernel.source import Found, load\nassert load(Found({str(tree)!r}, 'test'), env={env!r}) is None"
    assert imported_after(code, "tarfile") == []


def test_naming_the_lab_processes_does_not_import_psutil():
    code = (
        "from tuiexplore.domain import ActorInventory\nfrom tuiexplore.lab.names import process_names\n"
        f"assert process_names({{'a': ActorInventory(pid={os.getpid()})}})"
    )
    assert imported_after(code, "psutil") == []
