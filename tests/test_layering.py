"""The domain (lab, scenarios, timeline, runner, transcript) never imports Textual."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "tuiexplore"
DOMAIN = ["lab", "scenarios", "kernel", "timeline.py", "session.py", "runner.py", "reports"]


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_domain_is_free_of_ui_code():
    files = [f for d in DOMAIN for f in ((PKG / d).rglob("*.py") if (PKG / d).is_dir() else [PKG / d])]
    assert files
    offenders = {str(f.relative_to(PKG)): imports(f) & {"textual", "rich"} for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_actor_imports_only_the_standard_library():
    assert (
        imports(PKG / "lab" / "actor.py")
        - {
            "__future__",
            "ctypes",
            "errno",
            "fcntl",
            "json",
            "os",
            "select",
            "signal",
            "socket",
            "struct",
            "sys",
            "threading",
            "time",
            "typing",
            "tuiexplore",
        }
        == set()
    )
