"""The capture filter, run in the kernel: classic BPF over a SOCK_DGRAM packet socket.

A SOCK_DGRAM socket's filter sees the packet from the IP header on, on every interface alike,
which is libpcap's LINKTYPE_RAW. So a user's ``-f`` expression is compiled by tcpdump against a
raw-IP pcap header (``tcpdump -ddd -r``), and the port/host/ssh filters are assembled here
without libpcap. The program is a chain of blocks; each either rejects (``drop``) or falls
through to the next, and the last one (the user's program, or accept) decides:

  drop the loopback's transmit copy (libpcap's linux_check_direction(): every frame on ``lo``
  is queued twice, OUTGOING then HOST; on other interfaces OUTGOING is the only copy)
  -> TCP over IPv4 (not a later fragment) or IPv6, ports, host, not our own ssh session
  -> the user's expression
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import socket
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field

SO_ATTACH_FILTER = 26
SNAPLEN = 262144
MAX_PORTS = 64
SKF_AD_PKTTYPE = 0xFFFFF000 + 4
SKF_AD_IFINDEX = 0xFFFFF000 + 8
PACKET_OUTGOING = 4
LINKTYPE_RAW = 101

LD_W, LD_H, LD_B, LD_H_IND, LDX_MSH = 0x20, 0x28, 0x30, 0x48, 0xB1
AND_K, JA, JEQ, JSET, RET = 0x54, 0x05, 0x15, 0x45, 0x06

Insn = tuple[int, int, int, int]
Operand = int | str  # a constant, or a label a jump goes to


class FilterError(ValueError):
    """A filter that cannot be built: the message is one line for the user."""


@dataclass
class Spec:
    ports: list[int] = field(default_factory=list)
    host: str | None = None
    exclude_pair: tuple[int, int] | None = None  # our own ssh session, by its port pair
    user: list[Insn] | None = None  # a program compiled by tcpdump
    lo_ifindex: int | None = None


class Asm:
    """Classic BPF with forward labels; jumps resolved at the end (they are 8-bit offsets)."""

    def __init__(self) -> None:
        self.code: list[tuple[int, Operand, Operand, Operand]] = []
        self.labels: dict[str, int] = {}

    def op(self, code: int, k: Operand = 0, jt: Operand = 0, jf: Operand = 0) -> None:
        self.code.append((code, jt, jf, k))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def _rel(self, i: int, target: Operand) -> int:
        if isinstance(target, int):
            return target
        off = self.labels[str(target)] - i - 1
        if not 0 <= off <= 255:
            raise FilterError("the capture filter is too long for classic BPF (use fewer ports)")
        return off

    def program(self) -> list[Insn]:
        out = []
        for i, (code, jt, jf, k) in enumerate(self.code):
            if code == JA:
                out.append((code, 0, 0, self._rel(i, k)))
            elif code & 0x07 == 0x05:
                out.append((code, self._rel(i, jt), self._rel(i, jf), int(k)))
            else:
                out.append((code, 0, 0, int(k)))
        return out


def _family_block(a: Asm, spec: Spec, v: int, host: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> None:
    if v == 4:
        a.op(LD_B, 9)
        a.op(JEQ, 6, 0, "drop")
        a.op(LD_H, 6)
        a.op(JSET, 0x1FFF, "drop", 0)  # a later fragment has no TCP header
        a.op(LDX_MSH, 0)
        sport, dport = (LD_H_IND, 0), (LD_H_IND, 2)
    else:
        a.op(LD_B, 6)
        a.op(JEQ, 6, 0, "drop")
        sport, dport = (LD_H, 40), (LD_H, 42)
    if spec.ports:
        for load in (sport, dport):
            a.op(*load)
            for p in spec.ports:
                a.op(JEQ, p, f"ports{v}", 0)
        a.op(JA, "drop")
        a.label(f"ports{v}")
    if spec.host:
        if host is None or host.version != v:
            a.op(JA, "drop")
        else:
            words = struct.unpack(f"!{len(host.packed) // 4}I", host.packed)
            for side, base in (("s", 12 if v == 4 else 8), ("d", 16 if v == 4 else 24)):
                for n, w in enumerate(words):
                    a.op(LD_W, base + 4 * n)
                    a.op(JEQ, w, 0, f"host{v}{side}no")
                a.op(JA, f"host{v}")
                a.label(f"host{v}{side}no")
            a.op(JA, "drop")
            a.label(f"host{v}")
    if spec.exclude_pair:
        x, y = spec.exclude_pair
        a.op(*sport)
        a.op(JEQ, x, f"ssh{v}x", 0)
        a.op(JEQ, y, f"ssh{v}y", f"ssh{v}ok")
        a.label(f"ssh{v}x")
        a.op(*dport)
        a.op(JEQ, y, "drop", f"ssh{v}ok")
        a.label(f"ssh{v}y")
        a.op(*dport)
        a.op(JEQ, x, "drop", f"ssh{v}ok")
        a.label(f"ssh{v}ok")
    a.op(JA, "pass")


def build(spec: Spec) -> list[Insn]:
    if len(spec.ports) > MAX_PORTS:
        raise FilterError(f"at most {MAX_PORTS} --port values")
    host = None
    if spec.host:
        try:
            host = ipaddress.ip_address(spec.host)
        except ValueError:
            raise FilterError(f"--host needs an IP address, not {spec.host!r}") from None
        host = getattr(host, "ipv4_mapped", None) or host
    a = Asm()
    if spec.lo_ifindex is not None:
        a.op(LD_W, SKF_AD_PKTTYPE)
        a.op(JEQ, PACKET_OUTGOING, 0, "ip")
        a.op(LD_W, SKF_AD_IFINDEX)
        a.op(JEQ, spec.lo_ifindex, "drop", "ip")
    a.label("ip")
    a.op(LD_B, 0)
    a.op(AND_K, 0xF0)
    a.op(JEQ, 0x40, "v4", 0)
    a.op(JEQ, 0x60, "v6", "drop")
    a.label("v4")
    _family_block(a, spec, 4, host)
    a.label("v6")
    _family_block(a, spec, 6, host)
    a.label("drop")
    a.op(RET, 0)
    a.label("pass")
    if spec.user:
        return a.program() + spec.user
    a.op(RET, SNAPLEN)
    return a.program()


def compile_user(expr: str) -> list[Insn]:
    """A tcpdump/pcap-filter expression compiled by libpcap (through tcpdump) for raw IP."""
    tcpdump = shutil.which("tcpdump") or next((p for p in ("/usr/bin/tcpdump", "/usr/sbin/tcpdump") if os.path.exists(p)), None)
    if not tcpdump:
        raise FilterError("-f needs tcpdump (libpcap compiles the expression); use --port/--host, or install tcpdump")
    with tempfile.NamedTemporaryFile(suffix=".pcap") as hdr:
        hdr.write(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW))
        hdr.flush()
        res = subprocess.run([tcpdump, "-ddd", "-r", hdr.name, expr], capture_output=True, text=True, timeout=10)
    if res.returncode != 0:
        why = [ln for ln in res.stderr.splitlines() if not ln.startswith("reading from file")]
        raise FilterError(f"bad -f expression: {(why or ['tcpdump rejected it'])[-1].removeprefix('tcpdump: ')}")
    lines = res.stdout.split("\n")
    n = int(lines[0])
    return [_insn(ln) for ln in lines[1 : n + 1]]


def _insn(line: str) -> Insn:
    code, jt, jf, k = (int(x) for x in line.split())  # tcpdump -ddd: four numbers a line
    return code, jt, jf, k


def attach(sock: socket.socket, prog: list[Insn]) -> None:
    """SO_ATTACH_FILTER replaces any earlier program atomically (used again when --pid's ports change)."""
    insns = b"".join(struct.pack("HBBI", *i) for i in prog)
    buf = ctypes.create_string_buffer(insns)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("HL", len(prog), ctypes.addressof(buf)))


def run(prog: list[Insn], pkt: bytes, pkttype: int = 0, ifindex: int = 1) -> int:
    """A user-space interpreter of the subset build() emits, so tests check programs without a kernel."""
    a = x = 0
    pc = 0
    while True:
        code, jt, jf, k = prog[pc]
        pc += 1
        if code == RET:
            return k
        if code == JA:
            pc += k
        elif code in (JEQ, JSET):
            hit = (a == k) if code == JEQ else bool(a & k)
            pc += jt if hit else jf
        elif code == AND_K:
            a &= k
        elif code == LDX_MSH:
            x = (pkt[k] & 0x0F) * 4
        elif code in (LD_W, LD_H, LD_B, LD_H_IND):
            if k == SKF_AD_PKTTYPE:
                a = pkttype
                continue
            if k == SKF_AD_IFINDEX:
                a = ifindex
                continue
            off = k + (x if code == LD_H_IND else 0)
            size = 4 if code == LD_W else (1 if code == LD_B else 2)
            if off + size > len(pkt):
                return 0
            a = int.from_bytes(pkt[off : off + size], "big")
        else:
            raise ValueError(f"opcode {code:#x} not interpreted")
