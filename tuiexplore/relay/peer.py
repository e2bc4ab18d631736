"""The scripted peer: steps that are segments, not syscalls (packetdrill's ``<`` and ``>`` lines).

``inject`` sends one segment into the lab as if the actor's side had sent it on the lab port's
last connection; every field it leaves out comes from the relay's view of that connection
(``segment.Connection``): seq the sender's next (for an RST exactly the receiver's RCV.NXT; one
past its SYN while the relay holds that), ack
what the other side has delivered, the last window, timestamps. seq/ack are relative to each
side's ISN as in the packet list, or absolute with ``absolute = true``. ``expect`` checks the
next segment the actor's side sends after the peer's last step, and says what differed.
"""

from __future__ import annotations

from typing import Any

from tuiexplore.lab.capture import Frame
from tuiexplore.relay.segment import Connection, build, flag_bits

IP_MAX = 65535  # an IPv4 packet's largest total length (and the wire devices' MTU)


class PeerError(ValueError):
    """A segment that cannot be built or a check that failed; the message is one line."""


def inject(addr: str, args: dict[str, Any], frames: list[Frame], undelivered: set[int], port: int) -> bytes:
    """The frame ``addr``'s side would send, as asked."""
    mine, theirs = _directions(addr, frames, undelivered, port)
    letters = args["flags"]
    absolute = bool(args.get("absolute"))
    # Inside a handshake whose SYN(-ACK) is still held, the sender's next is one past its SYN.
    sent = mine.nxt if mine.nxt is not None else (None if mine.isn is None else (mine.isn + 1) % (1 << 32))
    seq = _number(args.get("seq"), absolute, mine.isn, sent, "seq")
    ack = _number(args.get("ack"), absolute, theirs.isn, theirs.nxt or 0, "ack") if "." in letters else 0
    win = mine.win if args.get("win") is None else args["win"]
    ts = (mine.ts_val + 1, theirs.ts_val or 0) if mine.ts_val is not None else None
    payload = (args.get("data") or "").encode()
    room = IP_MAX - 40 - (12 if ts else 0)  # the IPv4 and TCP headers, and the timestamps option
    if len(payload) > room:
        raise PeerError(f"{len(payload)} bytes of data do not fit in one segment: at most {room} here")
    return build(mine.l2, mine.addrs, seq, ack, flag_bits(letters), win, payload, ts)


def expect(
    addr: str, who: str, args: dict[str, Any], frames: list[Frame], since: int, port: int, injected: set[int]
) -> tuple[str | None, int]:
    """("", its number) when the next segment ``addr``'s socket sent after frame number
    ``since`` (the peer's own segments are not the socket's) is as expected, (the mismatch in
    one line, its number) when it is not, (None, 0) when it has sent none yet."""
    number, got = 0, None
    for i, f in enumerate(frames[since:], since + 1):
        if f.saddr == addr and port in (f.sport, f.dport) and id(f) not in injected:
            number, got = i, f
            break
    if got is None:
        return None, 0
    mine, theirs = _directions(addr, frames, set(), port)
    seq, ack = (got.seq - (mine.isn or 0)) % (1 << 32), (got.ack - (theirs.isn or 0)) % (1 << 32)
    want: list[tuple[str, Any, Any]] = [("flags", args["flags"], got.flags)]
    if args.get("seq") is not None:
        want.append(("seq", args["seq"], seq))
    if args.get("ack") is not None:
        want.append(("ack", args["ack"], ack))
    wrong = [f"{name} {w}" for name, w, g in want if w != g]
    if not wrong:
        return "", number
    acked = f" ack {ack}" if "." in got.flags else ""
    saw = f"#{number} {who} {got.flags} seq {seq}{acked} len {got.payload_len}"
    return f"expected {who} {args['flags']} ({', '.join(wrong)}), saw {saw}", number


def _number(given: int | None, absolute: bool, isn: int | None, default: int | None, what: str) -> int:
    if given is None and default is not None:
        return default
    if given is not None and absolute:
        return given
    if given is None or isn is None:
        raise PeerError(f"{what}: the SYN it counts from has not been seen through the relay; give it with absolute = true")
    return given + isn


def _directions(addr: str, frames: list[Frame], undelivered: set[int], port: int) -> tuple[Any, Any]:
    conn = Connection.last(frames, undelivered, port)
    dirs = conn.of(addr) if conn else None
    if dirs is None:
        raise PeerError("no connection on the lab port has been seen through the relay yet")
    return dirs
