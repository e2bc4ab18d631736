"""Bytes and bit masks from a tracee, as text no view can mistake for markup or escapes."""

from __future__ import annotations


def escape(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\x{b:02x}" for b in data)


def bits(value: int, table: dict[int, str]) -> str:
    names = [name for bit, name in table.items() if value & bit]
    rest = value & ~sum(table)
    return "|".join(names + ([hex(rest)] if rest else [])) or "0"
