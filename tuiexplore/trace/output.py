"""A traced program's stdout and stderr, read from the files they go to (never the terminal)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class OutputReader:
    actor: str
    pid: int
    fds: dict[str, int]
    offsets: dict[str, int] = field(default_factory=lambda: {"stdout": 0, "stderr": 0})
    partial: dict[str, bytes] = field(default_factory=lambda: {"stdout": b"", "stderr": b""})

    def lines(self, final: bool) -> list[tuple[str, bytes]]:
        """Complete lines written since the last look (and, at the end, the unfinished one)."""
        out = []
        for stream, fd in self.fds.items():
            try:
                data = os.pread(fd, 1 << 16, self.offsets[stream])
            except OSError:
                continue
            self.offsets[stream] += len(data)
            *done, rest = (self.partial[stream] + data).split(b"\n")
            if final and rest:
                done, rest = [*done, rest], b""
            self.partial[stream] = rest
            out += [(stream, line) for line in done]
        return out
