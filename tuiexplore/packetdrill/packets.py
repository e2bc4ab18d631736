"""Segment lines (``<`` injected, ``>`` expected): parser.y's ``tcp_packet_spec``.

Only TCP over the script's own addresses: UDP, ICMP, GRE, MPLS, explicit IP headers or ports
(a second host) and packet fuzzing are refused by name with their line and column.
"""

from __future__ import annotations

from .cursor import Cursor
from .script import TcpOption, TcpPacket

_UNSUPPORTED_PACKETS = {
    "udp": "UDP packets",
    "icmp": "ICMP packets",
    "gre": "GRE encapsulation",
    "GREv0": "GRE encapsulation",
    "mpls": "MPLS encapsulation",
    "ipv4": "explicit IPv4 headers (a second host)",
    "ipv6": "explicit IPv6 headers (a second host)",
}
_ECN = {"ect0", "ect1", "ce", "noecn", "ect01"}


def packet(c: Cursor) -> TcpPacket:
    inbound = c.take().text == "<"
    _only_tcp(c)
    ecn = None
    if c.at("[", "("):
        ecn = ip_info(c)
    if c.tok.kind == "INTEGER" and c.peek().text == ">":
        raise c.error("explicit ports are not supported: the lab picks the connection's ports", c.tok)
    _only_tcp(c)
    flags = tcp_flags(c)
    start = c.integer("a start sequence number")
    c.expect(":", "':' in the sequence range")
    end = c.integer("an end sequence number")
    c.expect("(", "'(' before the payload length")
    payload = c.integer("a payload length", 0, 0xFFFF)
    c.expect(")")
    if end != start + payload:
        raise c.error("inconsistent TCP sequence numbers and payload size", c.toks[c.i - 1])
    ack = win = urg = None
    if c.at("ack"):
        c.take()
        ack = c.integer("an ack number")
    if c.at("win"):
        c.take()
        win = c.integer("a window", 0, 0xFFFF)
    if c.at("urg"):
        c.take()
        urg = c.integer("an urgent pointer", 0, 0xFFFF)
    options: tuple[TcpOption, ...] | None = ()
    if c.at("<"):
        lt = c.take()
        if c.tok.kind == "ELLIPSIS":
            c.take()
            if inbound:
                raise c.error("<...> for TCP options can only be used with outbound packets", lt)
            options = None
        else:
            options = tcp_options(c)
        c.expect(">", "'>' closing the option list")
    if c.at("{"):
        raise c.error("packet fuzzing ({...}) is not supported", c.tok)
    return TcpPacket(inbound, flags, start, payload, ack, win, urg, options, ecn)


def _only_tcp(c: Cursor) -> None:
    if c.tok.kind == "WORD" and c.tok.text in _UNSUPPORTED_PACKETS:
        raise c.error(f"{_UNSUPPORTED_PACKETS[c.tok.text]} are not supported: only TCP", c.tok)


def ip_info(c: Cursor) -> str:
    close = "]" if c.take().text == "[" else ")"
    words = []
    while not c.at(close):
        if c.tok.kind == "EOF":
            c.fail(f"expected {close!r}")
        words.append(c.take().text)
    c.take()
    text = " ".join(words)
    if text not in _ECN:
        raise c.error(f"IP header fields ({text}) are not supported", c.toks[c.i - 1])
    return text


def tcp_flags(c: Cursor) -> str:
    t = c.tok
    if c.at(".", "-"):
        c.take()
        return "." if t.text == "." else ""
    if t.kind != "WORD" or any(c not in "SFRPUEWA" for c in t.text):
        c.fail("expected TCP flags (S, S., F., P., R, R., .)")
    c.take()
    text = t.text
    if c.at("."):
        c.take()
        text += "."
    return text


def tcp_options(c: Cursor) -> tuple[TcpOption, ...]:
    found = [tcp_option(c)]
    while c.at(","):
        c.take()
        found.append(tcp_option(c))
    if sum(_option_bytes(o) for o in found) > 40:
        raise c.error("TCP option list too long", c.tok)
    return tuple(found)


def tcp_option(c: Cursor) -> TcpOption:
    t = c.tok
    name = t.text if t.kind == "WORD" else ""
    if name in ("nop", "eol", "sackOK"):
        c.take()
        return TcpOption(name)
    if name == "mss":
        c.take()
        return TcpOption(name, value=c.integer("an mss value", 0, 0xFFFF))
    if name == "wscale":
        c.take()
        return TcpOption(name, value=c.integer("a window scale", 0, 0xFF))
    if name == "TS":
        c.take()
        c.expect("val")
        val = c.integer("a TS val")
        c.expect("ecr")
        return TcpOption(name, val=val, ecr=c.integer("a TS ecr"))
    if name == "sack":
        c.take()
        blocks = []
        while c.tok.kind == "INTEGER":
            left = c.integer("a SACK left edge")
            c.expect(":")
            blocks.append((left, c.integer("a SACK right edge")))
        if not blocks:
            c.fail("expected SACK blocks")
        return TcpOption(name, blocks=tuple(blocks))
    if name in ("FO", "FOEXP", "md5"):
        c.take()
        cookie = ""
        if c.tok.kind in ("WORD", "INTEGER") and not c.at(","):
            cookie = c.take().text
        if any(c not in "0123456789abcdefABCDEF" for c in cookie) or len(cookie) % 2 or len(cookie) > 32:
            raise c.error(f"{name} cookie is not a valid hex string: {cookie[:40]}", t)
        return TcpOption(name, cookie=cookie)
    c.fail("expected a TCP option (nop, eol, mss, wscale, sackOK, sack, TS, FO, FOEXP, md5)")
    raise AssertionError


def _option_bytes(o: TcpOption) -> int:
    fixed = {"nop": 1, "eol": 1, "mss": 4, "wscale": 3, "sackOK": 2, "TS": 10, "md5": 18}
    if o.kind in fixed:
        return fixed[o.kind]
    if o.kind == "sack":
        return 2 + 8 * len(o.blocks)
    cookie = len(o.cookie or "") // 2
    return (2 if o.kind == "FO" else 4) + cookie
