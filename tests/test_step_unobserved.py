"""No evidence, no disagreement (issue 19.3): where step has no packets (unprivileged without
--lab, --no-capture), a closing call's verdict says it was not observed, never that the kernel
disagreed, and the exit status is not 1."""

from __future__ import annotations

import json
import os

import pytest

from tests.test_step_fidelity import run, site  # noqa: F401 - site is a fixture

MODES = {"unprivileged": ("nobody", []), "no-capture": ("root", ["--no-capture"])}


@pytest.mark.parametrize("mode", list(MODES))
def test_no_packets_is_not_observed_not_a_disagreement(mode, site):  # noqa: F811
    user, opts = MODES[mode]
    if os.geteuid() != 0:
        user = "self"
    r, _ = run(["PYTHON", "-m", "tuiexplore", "step", "--auto", "--json", *opts, "--", str(site / "abi_switch")], user, site)
    evs = [json.loads(x) for x in r.stdout.splitlines()]
    [v] = [e for e in evs if e["type"] == "verdict" and e["call"] == "close"]
    assert v["predicted"] == "RST" and v["observed"] == "unobserved" and v["agree"] is None, v
    assert r.returncode == 0, r.stderr
    text, _ = run(["PYTHON", "-m", "tuiexplore", "step", "--auto", *opts, "--", str(site / "abi_switch")], user, site)
    [line] = [x for x in text.stdout.splitlines() if "VERDICT" in x and "close(" in x]
    assert line.endswith("predicted RST [data_was_unread], observed nothing - NOT OBSERVED (no packets)"), line
    assert "DISAGREES" not in text.stdout
