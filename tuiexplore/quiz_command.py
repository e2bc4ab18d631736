"""``tuiexplore quiz``: the built-ins in lesson order (``scenarios.lessons``), each played with
the quiz on, resumable: each finished lesson's score is kept under $XDG_STATE_HOME (or
~/.local/state)/tuiexplore/quiz.json, and the next run starts at the first lesson not done."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tuiexplore import quiz
from tuiexplore.room import Room, add_arguments
from tuiexplore.scenarios import lessons


def main(argv: list[str], run_ui: Callable[..., int]) -> int:
    """``run_ui(scenario, theme=, tracer=, room=)`` opens the explorer (the CLI hands it in: the
    domain never imports the TUI)."""
    p = argparse.ArgumentParser(
        prog="tuiexplore quiz",
        description="Guess first, then see: before each closing step, say what the kernel will put on the wire "
        "(FIN, RST or nothing); the built-ins from the seed to the hardest cases, resumable.",
    )
    p.add_argument("--list", action="store_true", help="list the lessons with the scores of those done")
    p.add_argument("--reset", action="store_true", help="forget the progress and start at the first lesson")
    p.add_argument("--lesson", metavar="NAME", choices=lessons.names(), help="start at this lesson (see --list)")
    p.add_argument("--theme", default=None, help="colour theme (dark, light, contrast)")
    p.add_argument("--no-trace", action="store_true", help="do not use kernel tracepoints even as root")
    add_arguments(p, demo=False)  # --record (its --quiz is implied)
    args = p.parse_args(argv)
    path = quiz.progress_path()
    if args.reset:
        path.unlink(missing_ok=True)
    done = quiz.load_progress(path)
    if args.list:
        for i, (name, intro) in enumerate(lessons.LESSONS, 1):
            score = f"{done[name][0]}/{done[name][1]} right" if name in done else "-"
            print(f"{i:>2}. {name:<28} {score:<10} {intro}")
        print(f"progress: {path}")
        return 0
    names = lessons.names()
    start = names.index(args.lesson) if args.lesson else next((i for i, n in enumerate(names) if n not in done), None)
    if start is None:
        right, asked = (sum(v[i] for v in done.values()) for i in (0, 1))
        print(f"tuiexplore: every lesson is done ({right} of {asked} right); --reset starts again, --lesson NAME plays one")
        return 0
    if start:
        print(f"tuiexplore: resuming at lesson {start + 1} of {len(names)} ({names[start]})", file=sys.stderr)
    room = Room(quiz=True, record=args.record, lessons=tuple(names[start:]))
    return run_ui(lessons.lesson(names[start]), theme=args.theme, tracer=not args.no_trace, room=room)
