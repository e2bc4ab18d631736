"""How the running kernel judges unread data on close(), asked of the kernel itself when its own
source is not at hand: the copied_seq test (5f9238530970, 6.18) was backported to stable trees
in October 2025 (5.4, 5.10, probably 5.15 to 6.12), so a version number does not tell.

The probe is the kernel selftest tcp_close_no_rst: the built-in ``close-no-rst`` run through the
relay, where the scripted peer sends already-read data again with a FIN; close() then sends FIN
on a kernel with the copied_seq test and RST on one that sums the queued segments' lengths. The
answer is cached per kernel release (``uname -r``), so each kernel is probed once.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from pathlib import Path

from tuiexplore import probe_cache
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.kernel.notes import running_unread_rule
from tuiexplore.lab.predict import kernel_version
from tuiexplore.timeline import VerdictEvent

FORMAT = 1
PROBE = "close-no-rst"
CLOSE_STEP = 11  # close-no-rst's close(conn)
RULES = {"FIN": "copied_seq", "RST": "skb_len"}
UPSTREAM = (6, 18, 0)  # every kernel from here has the copied_seq test


def _cache(release: str, env: Mapping[str, str] | None) -> Path:
    return probe_cache.path("unread-rule", FORMAT, release, env)


def _cached(where: Path, release: str) -> str | None:
    rule = probe_cache.read(where, FORMAT, release, "rule")
    return rule if isinstance(rule, str) and rule in RULES.values() else None


def _run_probe() -> list[VerdictEvent]:
    from tuiexplore import runner
    from tuiexplore.scenarios.scenario import load

    result = runner.run(load(PROBE), tracer=False)
    return [e for e in result.events if isinstance(e, VerdictEvent)]


def probe(
    release: str | None = None, env: Mapping[str, str] | None = None, run: Callable[[], list[VerdictEvent]] = _run_probe
) -> str | None:
    """'copied_seq' or 'skb_len' as the running kernel showed it (cached), None when the probe
    could not tell (no relay here: no veth, no second namespace)."""
    release = release or platform.release()
    path = _cache(release, env)
    rule = _cached(path, release)
    if rule is not None:
        return rule
    try:
        verdicts = run()
    except Exception:  # a lab that cannot start: the predictor goes by the version, as before
        return None
    seen = [v.observed for v in verdicts if v.step == CLOSE_STEP and v.call == "close"]
    rule = RULES.get(seen[0]) if seen else None
    if rule is not None:
        probe_cache.store(path, release=release, fmt=FORMAT, key="rule", value=rule)
    return rule


def known(release: str | None = None) -> str | None:
    """What an earlier probe of this release found, without probing."""
    release = release or platform.release()
    return _cached(_cache(release, None), release)


def unread_rule(ex: Excerpt, release: str | None = None) -> str | None:
    """The rule from the running kernel's own source when it is shown, else from the probe for
    a kernel older than 6.18 (one that may or may not carry the backport); None from 6.18 on,
    where the version is the answer (the predictor's default)."""
    release = release or platform.release()
    rule = running_unread_rule(ex, release)
    if rule is not None or kernel_version(release) >= UPSTREAM:
        return rule
    return probe(release)
