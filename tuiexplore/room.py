"""The explorer's options for a room: ``--quiz`` (guess first, then see) and ``--record FILE.cast``
(an asciicast anyone can replay), with ``demo``'s ``--once`` and ``--size``. Parsed here so the
CLI only adds them; what they do lives in ``quiz.py``, ``recording.py`` and ``tui/``."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass

from tuiexplore import outputs, safetext

HEADLESS_SIZE = (120, 36)


@dataclass(frozen=True)
class Room:
    quiz: bool = False  # ask before each closing step what the kernel will put on the wire
    record: str | None = None  # asciicast v2 file to write
    once: bool = False  # demo: quit a few seconds after the last step
    lessons: tuple[str, ...] = ()  # ``tuiexplore quiz``: the built-ins still to play, in order


NO_ROOM = Room()  # the explorer as it was: no quiz, no --record file, no --once


def add_arguments(p: argparse.ArgumentParser, demo: bool) -> None:
    p.add_argument("--quiz", action="store_true", help="before each closing step, guess FIN, RST or nothing first")
    p.add_argument("--record", metavar="FILE.cast", help="write what the terminal shows to FILE (asciicast v2)")
    if demo:
        p.add_argument("--once", action="store_true", help="quit a few seconds after the last step")
        p.add_argument(
            "--size",
            type=_size,
            default=HEADLESS_SIZE,
            metavar="WxH",
            help="with --record and no terminal: the recorded screen's size (default 120x36)",
        )


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{2,3})x(\d{1,3})", text)
    if not m or not (40 <= int(m[1]) <= 400 and 12 <= int(m[2]) <= 200):
        raise argparse.ArgumentTypeError(f"not a size from 40x12 to 400x200: {safetext.quoted(text)}")
    return int(m[1]), int(m[2])


def from_args(args: argparse.Namespace) -> Room:
    if args.record:
        outputs.check(None, [args.record])
    return Room(quiz=args.quiz, record=args.record, once=getattr(args, "once", False))


def headless(argv: list[str], args: argparse.Namespace, demo: bool) -> int | None:
    """``demo --record`` with no terminal: the same demo in a pseudo-terminal, which quits when
    done; its exit status. None: there is a terminal, the screen opens here."""
    if not (demo and args.record) or sys.stdout.isatty():
        return None
    if args.quiz:
        raise outputs.Unusable("--quiz needs someone at a terminal to answer; without one, record without --quiz")
    outputs.check(None, [args.record])
    from tuiexplore.headless import run_in_pty

    print(f"tuiexplore: no terminal: recording the demo in a {args.size[0]}x{args.size[1]} pseudo-terminal", file=sys.stderr)
    code = run_in_pty(["demo", *argv, "--once"], *args.size)
    if code == 0:
        print(f"tuiexplore: recorded to {args.record}", file=sys.stderr)
    return code
