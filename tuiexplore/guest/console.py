"""What a guest's console says when its lab stops: a kernel oops is named, and the whole console
is kept in a file, since one line cannot carry a panic's trace."""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO

from tuiexplore.kernel.source import cache_dir
from tuiexplore.lab.transport import last_line

# The first line of a kernel oops report (lib/bug.c, arch/x86/kernel/dumpstack.c, mm/fault.c).
_OOPS = re.compile(r"\] (BUG: .*|Oops: .*|general protection fault.*|kernel BUG at .*|RIP: .*|Kernel panic - .*)$")


def console_file() -> Path:
    return cache_dir() / "guest-console.log"


def last_words(console: IO[str]) -> str:
    """The console's last line, or for a kernel oops its first lines and where the rest is kept."""
    try:
        console.seek(0)
        text = console.read()
    except (OSError, ValueError):
        return ""
    oops = [m.group(1) for ln in text.splitlines() if (m := _OOPS.search(ln.rstrip()))]
    if not oops:
        return last_line(console)
    saved = console_file()
    try:
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(text)
        where = f"; the guest's console is in {saved}"
    except OSError as exc:
        where = f"; the console could not be kept: {exc.strerror}"
    first, rip = oops[0], next((o for o in oops if o.startswith("RIP: ")), "")
    said = f"{first} {rip}".strip() if rip and rip != first else first
    return f"the guest kernel crashed: {said}{where}"
