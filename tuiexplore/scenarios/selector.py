"""``kernel = ">=6.10"`` on an [[expect]]: the kernel lines an expectation holds for.

Some wire details are not the same on every kernel line although the verdict is (e.g. how
``tcp_write_xmit()`` splits queued data). An expectation with a selector is checked only on a
kernel it selects; files without one behave as before (checked everywhere).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

_OPS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_SPEC = re.compile(r"^\s*(>=|<=|==|>|<)\s*(\d+)\.(\d+)(?:\.(\d+))?\s*$")


@dataclass(frozen=True)
class KernelRange:
    op: str
    version: tuple[int, int, int]

    def __str__(self) -> str:
        return f"{self.op}{'.'.join(str(n) for n in self.version if n >= 0)}"

    def selects(self, version: tuple[int, int, int]) -> bool:
        # "==6.1" means the 6.1 line (any 6.1.x) when no patch level is given.
        if self.op == "==" and self.version[2] < 0:
            return version[:2] == self.version[:2]
        return _OPS[self.op](version, (*self.version[:2], max(self.version[2], 0)))


def parse(text: object) -> KernelRange | None:
    """None when ``text`` is not a selector like ">=6.10", "<6.10", "==6.1" or ">=5.10.200"."""
    m = _SPEC.match(text) if isinstance(text, str) else None
    if not m:
        return None
    return KernelRange(m[1], (int(m[2]), int(m[3]), int(m[4]) if m[4] is not None else -1))
