"""The manual: the reference pages are what the code makes, it builds with --strict, and watch's
JSON objects have exactly the fields its page documents."""

import importlib.util
import json
import os
import subprocess
import sys

from conftest import ROOT, cli

from tuiexplore.lab import predict
from tuiexplore.watch import fields


def gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_pages_are_what_the_code_makes():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_branch_added_without_the_docs_is_caught(monkeypatch, capsys):
    g = gen_docs()
    monkeypatch.setitem(predict.BRANCHES, "new_branch", "a path the docs do not know yet")
    assert g.main(["--check"]) == 1
    assert "branches.md" in capsys.readouterr().err


def test_the_manual_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    keys = (tmp_path / "site" / "reference" / "keys" / "index.html").read_text()
    assert "client.close" in keys and "step.next" in keys and "watch.filter" in keys
    assert "data_was_unread" in (tmp_path / "site" / "reference" / "branches" / "index.html").read_text()


def test_watch_json_has_exactly_the_documented_fields():
    proc = cli("watch", "-r", str(ROOT / "tests" / "data" / "watch-world.pcap"), "--json")
    assert proc.returncode == 0, proc.stderr
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    want = {"connection": fields.CONNECTION, "summary": fields.SUMMARY, "note": fields.NOTE}
    assert {o["type"] for o in objs} == set(want)
    for o in objs:
        assert list(o) == list(want[o["type"]]), o["type"]
