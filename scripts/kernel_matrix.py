"""Every built-in and every unseen-style test scenario on each available kernel plus the host.

    .venv/bin/python scripts/kernel_matrix.py [--kernel K ...] [--only SUBSTRING]

Prints one line per (kernel, scenario, verdict): predicted, observed, agree; then one line per
scenario whose own expectations failed; last ``matrix_agree=<agreeing>/<total>`` (verdicts) and
``kernels=<list>``. Each guest run boots its own QEMU (TCG here: ~12 s before the first step),
so the whole matrix takes a while; it is CPU-heavy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import CONNECT, SERVER, step, steps  # noqa: E402 - the unseen cases' own builders
from test_unseen import CASES, SYN_SENT  # noqa: E402

from tuiexplore import runner  # noqa: E402
from tuiexplore.guest import catalog  # noqa: E402
from tuiexplore.guest.commands import HOST, resolve  # noqa: E402
from tuiexplore.guest.machine import Guest, GuestError  # noqa: E402
from tuiexplore.lab.client import LabError  # noqa: E402
from tuiexplore.scenarios.scenario import Scenario, builtin_names, load, parse  # noqa: E402
from tuiexplore.timeline import VerdictEvent  # noqa: E402


def fin_on_data(reads: int) -> Scenario:
    """The issue's case: the peer's FIN rides on its last data segment (zero-window-close up to
    the client's close), the reader reads ``reads`` times, letting the window reopen in between,
    and closes without reading EOF. How many reads empty the queue depends on the kernel (5.10
    and 6.1 send the held data in two parts, 6.12+ in one), hence two variants; before 6.10 the
    second part comes at the next read's window update or earlier by the persist timer, so
    these verdicts (not their agreement) can change from run to run there: the built-in
    window-reopen-close is the deterministic kernel-line case."""
    text = (ROOT / "tuiexplore/scenarios/catalog/zero-window-close.toml").read_text()
    head = text[: text.index("[[expect]]")].split("[[step]]")
    read = step("server", "read", fd="conn", size=65536)
    body = "[[step]]".join(head[:12]) + (read + step("lab", "sleep", ms=300)) * (reads - 1) + read
    body += step("server", "close", fd="conn")
    name = f"fin-on-data-{reads}-reads"
    return parse(body.replace('title = "', f'title = "FIN on data, {reads} reads, no EOF read: ', 1), f"{name}.toml", name)


def scenarios() -> list[Scenario]:
    out = [load(n) for n in builtin_names()]
    out += [parse(steps(SERVER, CONNECT, body, title=name), f"{name}.toml", name) for name, (body, _) in sorted(CASES.items())]
    out.append(parse(steps(SYN_SENT, title="syn-sent-close"), "syn-sent-close.toml", "syn-sent-close"))
    out += [fin_on_data(2), fin_on_data(3)]
    return out


def run_kernel(name: str, guest: Guest | None, scns: list[Scenario]) -> tuple[int, int, list[str]]:
    """(agreeing verdicts, verdicts, failed expectations) of every scenario on one kernel (None:
    the host)."""
    agree = total = 0
    failed: list[str] = []
    t0 = time.monotonic()
    for scn in scns:
        try:
            result = runner.run(scn, transport=guest.transport if guest else None)
        except LabError as exc:
            failed.append(f"{name} {scn.name}: the lab could not run: {exc}")
            print(f"EXPECTATION {failed[-1]}", flush=True)
            continue
        for v in (e for e in result.events if isinstance(e, VerdictEvent)):
            total += 1
            agree += v.agree
            row = f"{name:<8} {scn.name:<44} {v.step:>4}  {v.predicted:<9} {v.observed:<9}"
            print(f"{row} {'yes' if v.agree else 'NO'}  [{v.branch}]", flush=True)
        for f in result.failures:
            if "predicted" not in f:  # a disagreement is already in the table
                failed.append(f"{name} {scn.name}: {f}")
                print(f"EXPECTATION {failed[-1]}", flush=True)
    print(f"# {name}: {len(scns)} scenarios in {time.monotonic() - t0:.0f} s", flush=True)
    return agree, total, failed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kernel", action="append", help="host or a cached line (default: host + every cached kernel)")
    p.add_argument("--only", help="run only the scenarios whose name contains this")
    args = p.parse_args()
    names = args.kernel or [HOST, *(k.label for k in catalog.cached())]
    try:
        guests = {name: resolve(name) for name in names}  # an unknown kernel is said before any run
    except GuestError as exc:
        print(f"kernel_matrix: {exc}", file=sys.stderr)
        return 2
    scns = [s for s in scenarios() if not args.only or args.only in s.name]
    agree = total = 0
    failed: list[str] = []
    versions: list[str] = []
    print(f"{'kernel':<8} {'scenario':<44} {'step':>4}  {'predicted':<9} {'observed':<9} agree", flush=True)
    try:
        for name in names:
            g = guests[name]
            versions.append(f"{name}:{catalog.host_release() if g is None else g.kernel.version}")
            a, t, f = run_kernel(name, g, scns)
            agree, total, failed = agree + a, total + t, failed + f
    except KeyboardInterrupt:
        print("# interrupted: the totals cover the kernels that finished", flush=True)
    print(f"matrix_agree={agree}/{total}")
    print(f"kernels={','.join(versions)}")
    return 0 if agree == total and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
