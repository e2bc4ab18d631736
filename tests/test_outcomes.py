"""The four ways a step ends, told apart end to end (``tuiexplore run FILE --json``): returned,
blocked in the kernel, failed in the actor (not run as written: exit 1), and refused because the
actor is still blocked in an earlier call (exit 1, a clear message, the lab carries on)."""

import json

from conftest import cli

HEAD = 'title = "t"\n'
LISTENER = (
    '[[step]]\nactor = "server"\ncall = "socket"\nas = "listener"\n\n'
    '[[step]]\nactor = "server"\ncall = "bind"\nfd = "listener"\n\n'
    '[[step]]\nactor = "server"\ncall = "listen"\nfd = "listener"\n\n'
)
ACCEPT = '[[step]]\nactor = "server"\ncall = "accept"\nfd = "listener"\nas = "conn"\n\n'


def run_json(scenario_file, text):
    proc = cli("run", scenario_file(text), "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    steps = {e["step"]: e for e in map(json.loads, proc.stdout.splitlines()) if e["type"] == "step"}
    return proc, steps


def test_returned(scenario_file):
    proc, steps = run_json(scenario_file, HEAD + LISTENER)
    assert proc.returncode == 0, proc.stderr
    assert steps[1]["ret"] > 2 and [(s["ret"], s["errno"]) for s in list(steps.values())[1:]] == [(0, None), (0, None)]


def test_blocked_in_the_kernel_counts_as_run(scenario_file):
    proc, steps = run_json(scenario_file, HEAD + LISTENER + ACCEPT)
    assert proc.returncode == 0, proc.stderr
    assert steps[4]["ret"] is None and steps[4]["result"] == {"blocked": True}


def test_refused_while_blocked_in_an_earlier_call(scenario_file):
    # The reproduction of issue 9: this crashed the agent (KeyError 't1').
    close = '[[step]]\nactor = "server"\ncall = "close"\nfd = "listener"\n\n'
    proc, steps = run_json(scenario_file, HEAD + LISTENER + ACCEPT + close)
    assert proc.returncode == 1, proc.stderr
    assert steps[5]["result"]["refused"] is True
    assert "server is still blocked in accept() from step 4" in steps[5]["result"]["message"]
    assert "step 5: did not run as written (server is still blocked in accept() from step 4" in proc.stderr
    assert "stopped unexpectedly" not in proc.stderr


def test_failed_in_the_actor_is_not_run_as_written(scenario_file):
    # accept() on a socket that never listened returns EINVAL, so "conn" never exists; closing
    # it fails in the actor (no such fd), which is not a syscall error.
    text = (
        HEAD
        + '[[step]]\nactor = "server"\ncall = "socket"\nas = "s"\n\n'
        + '[[step]]\nactor = "server"\ncall = "accept"\nfd = "s"\nas = "conn"\n\n'
        + '[[step]]\nactor = "server"\ncall = "close"\nfd = "conn"\n\n'
        + '[[step]]\nactor = "server"\ncall = "close"\nfd = "s"\n'
    )
    proc, steps = run_json(scenario_file, text)
    assert steps[2]["errno"] == "EINVAL"
    assert steps[3]["ret"] is None and steps[3]["result"]["failed"] is True
    assert "server holds no fd named 'conn'" in steps[3]["result"]["message"]
    assert proc.returncode == 1
    assert "step 3: did not run as written (close() could not be performed: server holds no fd named 'conn')" in proc.stderr
    assert steps[4]["ret"] == 0  # the actor is still there and answers the next step


def test_exit_ends_a_blocked_actor_and_is_judged(scenario_file):
    exit_step = '[[step]]\nactor = "server"\ncall = "exit"\n'
    proc = cli("run", scenario_file(HEAD + LISTENER + ACCEPT + exit_step), "--json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    [verdict] = [e for e in events if e["type"] == "verdict"]
    assert (verdict["step"], verdict["fd"], verdict["branch"], verdict["agree"]) == (5, "listener", "listen_stop", True)
