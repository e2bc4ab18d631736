"""What a probe of a kernel found, kept per kernel release (``uname -r``) so that each kernel is
probed once: the unread-data rule (unread_probe.py) and the receive rules (rules_probe.py).

A file holds one answer with the format and the release it was made for; a file of another
format or release, or one that cannot be read, is no answer (the next run probes again).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tuiexplore.files import FileError, read_regular
from tuiexplore.kernel.source import cache_dir


def path(name: str, fmt: int, release: str, env: Mapping[str, str] | None = None) -> Path:
    return cache_dir(env) / f"{name}-v{fmt}-{re.sub(r'[^A-Za-z0-9._+-]', '_', release)}.json"


def read(where: Path, fmt: int, release: str, key: str) -> object:
    """The answer stored under ``key``, or None."""
    try:
        d = json.loads(read_regular(str(where), 4096, "a cache file"))
    except (FileError, ValueError):
        return None
    ok = isinstance(d, dict) and d.get("format") == fmt and d.get("release") == release
    return d.get(key) if ok else None


def store(where: Path, fmt: int, release: str, key: str, value: object) -> None:
    """Written whole or not at all; no cache is no failure (the next run probes again)."""
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=where.parent, prefix=f".{where.stem}-")
        with os.fdopen(fd, "w") as f:
            json.dump({"format": fmt, "release": release, key: value}, f)
        os.replace(tmp, where)
    except OSError:
        pass
