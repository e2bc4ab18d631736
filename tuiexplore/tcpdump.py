"""tcpdump's own notation for what the header fields alone do not say: the TCP options, the
absolute sequence numbers of ``-S`` and the ``-ttt``/``-ttttt`` timestamps (print-tcp.c,
print.c, tcpdump 4.99)."""

from __future__ import annotations

import struct

TS_MODES = ("since start", "-ttt", "-ttttt")  # the timeline's t; delta to the previous; to the first


def tcp_options(opts: bytes) -> str:
    """The options as tcpdump prints them inside ``options [...]``: mss 65495,sackOK,TS val 1 ecr 0,nop,wscale 7."""
    out: list[str] = []
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            out.append("eol")
            break
        if kind == 1:
            out.append("nop")
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2 or i + opts[i + 1] > len(opts):
            out.append(f"opt-{kind}:[bad opt]")
            break
        size = opts[i + 1]
        data = opts[i + 2 : i + size]
        out.append(_option(kind, data))
        i += size
    return ",".join(out)


def _option(kind: int, data: bytes) -> str:
    if kind == 2 and len(data) == 2:
        return f"mss {struct.unpack('!H', data)[0]}"
    if kind == 3 and len(data) == 1:
        return f"wscale {data[0]}"
    if kind == 4 and not data:
        return "sackOK"
    if kind == 5 and len(data) % 8 == 0:
        blocks = [struct.unpack_from("!II", data, j) for j in range(0, len(data), 8)]
        return f"sack {len(blocks)} " + "".join(f"{{{a}:{b}}}" for a, b in blocks)
    if kind == 8 and len(data) == 8:
        val, ecr = struct.unpack("!II", data)
        return f"TS val {val} ecr {ecr}"
    if kind == 19:
        return "md5 shared secret not supplied with -M, can't check - " + data.hex()
    if kind == 34:
        return "tfo  cookiereq" if not data else f"tfo  cookie {data.hex()}"
    return f"opt-{kind}:{data.hex()}"


def frame_options(raw: bytes, l2_len: int = 14) -> str:
    """The options of a captured IPv4/TCP frame ("" when it has none or is not TCP)."""
    ip = raw[l2_len:]
    if len(ip) < 20:
        return ""
    tcp = ip[(ip[0] & 0x0F) * 4 :]
    if len(tcp) < 20:
        return ""
    return tcp_options(tcp[20 : (tcp[12] >> 4) * 4])


def absolute(raw: bytes, l2_len: int = 14) -> tuple[int, int] | None:
    """The frame's own seq and ack (tcpdump -S), read from its header."""
    ip = raw[l2_len:]
    if len(ip) < 20:
        return None
    tcp = ip[(ip[0] & 0x0F) * 4 :]
    return struct.unpack_from("!II", tcp, 4) if len(tcp) >= 20 else None


def clock(seconds: float) -> str:
    """HH:MM:SS.uuuuuu, the form tcpdump gives -ttt and -ttttt."""
    us = max(0, round(seconds * 1e6))
    s, us = divmod(us, 1_000_000)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{us:06d}"


def timestamp(mode: int, t: float, previous: float | None, first: float | None) -> str:
    if mode == 1:
        return clock(t - previous if previous is not None else 0.0)
    if mode == 2:
        return clock(t - first if first is not None else 0.0)
    return f"{t:.6f}"
