"""The manual's reference tables, made from the code that defines them: scripts/gen_docs.py [--check]

Writes docs/reference/{calls,builtins,branches,events,watch-fields,keys}.md. With --check it
writes nothing and exits 1 naming each page that is not what the code makes (tests/test_docs.py
runs it: a branch id, key, call or field added without the docs changing fails the suite).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tuiexplore import timeline  # noqa: E402
from tuiexplore.kernel import receipt_source, timer_source  # noqa: E402
from tuiexplore.lab import calls, predict  # noqa: E402
from tuiexplore.lab.timerpath import TIMER_BRANCHES  # noqa: E402
from tuiexplore.scenarios import reader, scenario  # noqa: E402
from tuiexplore.trace import events as trace_events  # noqa: E402
from tuiexplore.watch import fields  # noqa: E402

OUT = ROOT / "docs" / "reference"
HEAD = "<!-- Made by scripts/gen_docs.py from the code: edit the code, then run it. -->\n\n"


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(head: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _arg(a: calls.Arg) -> str:
    text = f"`{a.name}`"
    if a.choices:
        text += ": " + " / ".join(f"`{c}`" for c in a.choices)
    if a.required:
        text += " (required)"
    elif a.default is not None:
        text += f" (default `{json.dumps(a.default)}`)"
    return text


def calls_page() -> str:
    lo, hi = calls.INT32
    limits = [(f"`{k}`", f"{v[0]} to {v[1]}") for k, v in calls.LIMITS.items()]
    (on_lo, on_hi), (s_lo, s_hi) = calls.LINGER_LIMITS
    limits.append(("`SO_LINGER`", f"`[onoff, seconds]`, onoff {on_lo} to {on_hi}, seconds {s_lo} to {s_hi}"))
    limits += [(f"`{k}`", f"{v[0]} to {v[1]}") for k, v in calls.SOCKOPT_LIMITS.items()]
    d_lo, d_hi = calls.SOCKOPT_DEFAULT_LIMIT
    limits.append(("other socket options", f"{d_lo} to {d_hi}"))
    limits.append(("any other integer", f"a C int, {lo} to {hi}"))
    limits.append(("`data` (write)", f"at most {calls.MAX_DATA} characters"))
    files = [
        ("file", f"a regular file of at most {reader.MAX_BYTES} bytes of UTF-8 (a FIFO, device or directory is refused)"),
        ("nesting", f"arrays and tables at most {reader.MAX_DEPTH} deep"),
        ("steps", f"at most {scenario.MAX_STEPS}"),
        ("expectations", f"at most {scenario.MAX_EXPECTS}"),
        ("actors", f"at most {scenario.MAX_ACTORS} (each is a process)"),
        ("title", f"at most {scenario.MAX_TITLE} characters"),
        ("summary, `say`", f"at most {scenario.MAX_TEXT} characters each"),
    ]
    return (
        HEAD
        + "# Scenario calls and limits\n\n"
        + "Every call a `[[step]]` may make, with its arguments (an `fd` or `ep` is a name an earlier "
        + "`as` gave). A closing call gets a verdict: FIN, RST or nothing, predicted and then observed.\n\n"
        + table(
            ("call", "arguments", "what it does", "closing"),
            [
                (f"`{c.name}`", "; ".join(_arg(a) for a in c.args) or "none", c.summary, "yes" if c.closing else "")
                for c in calls.CALLS.values()
            ],
        )
        + "\n`setsockopt` options: "
        + ", ".join(f"`{o}`" for o in calls.SOCKOPTS)
        + ".\n\nepoll event names: "
        + ", ".join(f"`{e}`" for e in calls.EPOLL_BITS)
        + ".\n\n## Argument limits\n\nChecked before any syscall sees a value, for scenario steps and manual steps alike.\n\n"
        + table(("argument", "range"), limits)
        + "\n## Limits on a scenario file\n\n"
        + table(("what", "limit"), files)
    )


def builtins_page() -> str:
    rows = []
    for name in scenario.builtin_names():
        s = scenario.load(name)
        rows.append((f"`{name}`", s.title, len(s.steps)))
    return (
        HEAD
        + "# Built-in scenarios\n\n`tuiexplore list` prints them; each opens with `tuiexplore NAME`.\n\n"
        + table(("name", "title", "steps"), rows)
    )


def branches_page() -> str:
    return (
        HEAD
        + "# Branch ids\n\nA verdict's `branch` (JSON Lines, the transcript, the kernel panel) and watch's `cause` "
        + "name the kernel code path the predictor followed (`tuiexplore/lab/predict.py`).\n\n"
        + table(("id", "the kernel's path"), [(f"`{k}`", v) for k, v in {**predict.BRANCHES, **TIMER_BRANCHES}.items()])
        + timer_lines()
    )


def timer_lines() -> str:
    """Each timer branch's lines as the kernel panel marks them, in the bundled 6.12 excerpt."""
    out = [
        "\n## The timer branches in the source\n\nAfter a `wait` step the kernel panel (and the verdict dialog, `v`, "
        "and the export's transcript) shows the timer function that decided (`tuiexplore/kernel/timer_source.py`), "
        "found by its code in the running kernel's tree (`--kernel-src`, a guest line's) or else in the bundled "
        "excerpt of Debian's 6.12 source, and marks these "
        "lines, its deciding condition first. Their numbers in the bundled excerpt:\n"
    ]
    for branch, (fn, _) in timer_source.TIMER_PATTERNS.items():
        ex = receipt_source.bundled(fn)
        file = timer_source.FUNCTIONS[fn]
        out.append(f"`{branch}`: `{fn}()`, {file} {ex.first_line}-{ex.last_line} ({ex.version}):\n\n```c")
        out += [f"{n}  {ex.lines[n - ex.first_line].strip()}" for n in ex.branches[branch]]
        out.append("```\n")
    return "\n".join(out)


def _dummy(tp: Any) -> Any:
    """A value of a field's type, to run an event's own to_dict()."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _dummy(typing.get_args(tp)[0])
    if origin is not None:
        tp = origin
    # A non-empty string: a field left out when empty (PacketEvent.relay) is listed too.
    return {int: 0, float: 0.0, str: "x", bool: False, bytes: b"", list: [], dict: {}, tuple: ()}.get(tp)


def _json_fields(cls: type[timeline.Event]) -> list[str]:
    hints = typing.get_type_hints(cls)
    values = {f.name: _dummy(hints[f.name]) for f in dataclasses.fields(cls) if f.init}
    return list(cls(**values).to_dict())


def events_page() -> str:
    trace_events.register_wire_types()  # the step command's own event types join the registry
    rows = []
    for kind, cls in timeline.EVENT_TYPES.items():
        doc = " ".join((cls.__doc__ or "").split("\n\n")[0].split()).replace("``", "`")
        rows.append((f"`{kind}`", ", ".join(f"`{f}`" for f in _json_fields(cls) if f != "type"), doc))
    return (
        HEAD
        + "# JSON Lines events\n\n`tuiexplore run SCENARIO --json` (and `step --json`, and an export's `timeline.jsonl`) "
        + "write one event per line, in timeline order. Every event has `type` and `t` (seconds since the "
        + "scenario started); an event a step caused carries `step`. A field whose value is null may be left out.\n\n"
        + table(("type", "fields", "what it is"), rows)
    )


def watch_page() -> str:
    def rows(d: dict[str, str]) -> list[tuple[object, ...]]:
        return [(f"`{k}`", v) for k, v in d.items()]

    return (
        HEAD
        + "# watch's JSON fields\n\n`tuiexplore watch --json` prints `note` objects first, then one `connection` "
        + "per finished connection (those still open at the end last), then one `summary`.\n\n## connection\n\n"
        + table(("field", "meaning"), rows(fields.CONNECTION))
        + "\n## summary\n\n"
        + table(("field", "meaning"), rows(fields.SUMMARY))
        + "\n## note\n\n"
        + table(("field", "meaning"), rows(fields.NOTE))
    )


def keys_page() -> str:
    from tuiexplore.tui.keymaps import groups

    out = [
        HEAD,
        "# Keys\n\nEvery key by its binding id, with its default keys. Rebind one in "
        "`config.toml` under `[keymap]` (see [Your settings](../config.md)); the footer, the help "
        "(`?`) and the action follow. `ctrl+p` (the command palette) is Textual's own.\n",
    ]
    for group, bindings in groups():
        out.append(f"\n## {group[0].upper()}{group[1:]}\n\n")
        out.append(
            table(("id", "keys", "what it does"), [(f"`{b.id}`", f"`{b.key}`", b.tooltip or b.description) for b in bindings])
        )
    return "".join(out)


PAGES: dict[str, Callable[[], str]] = {
    "calls.md": calls_page,
    "builtins.md": builtins_page,
    "branches.md": branches_page,
    "events.md": events_page,
    "watch-fields.md": watch_page,
    "keys.md": keys_page,
}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, make in PAGES.items():
        path, text = OUT / name, make()
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"docs/reference: not what the code makes: {', '.join(stale)} (run scripts/gen_docs.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
