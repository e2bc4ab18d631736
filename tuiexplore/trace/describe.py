"""A traced call as one line of text: fds with their sockets, sockaddrs, flags and epoll masks by
name, buffers as the decoder escaped them. Plain text for the explorer's panels (which never
read it as markup) and for anything else that wants the call in words."""

from __future__ import annotations

from typing import Any

from tuiexplore.timeline import StepEvent
from tuiexplore.trace.events import StopEvent

FD_KEYS = ("fd", "ep", "newfd", "out_fd", "in_fd")


def addr_text(addr: dict[str, Any] | None) -> str:
    if not addr:
        return "NULL"
    if "port" in addr:
        ip = addr.get("ip", "?")
        return f"[{ip}]:{addr['port']}" if ":" in ip else f"{ip}:{addr['port']}"
    if "path" in addr:
        return f"{addr['family']} {addr['path']!r}"
    return str(addr.get("family", "?"))


def socket_text(sock: dict[str, Any] | None) -> str:
    if not sock or not sock.get("local"):
        return ""
    if sock.get("kind", "tcp") != "tcp":
        return f" [{sock['kind']}]"
    ends = f"{sock['local']} → {sock['remote']}" if sock.get("remote") else sock["local"]
    return f" [{ends} {sock['state']}]"


def _value(key: str, value: Any, args: dict[str, Any]) -> str:
    if key == "addr" or key == "peer":
        return addr_text(value)
    if key == "events" and isinstance(value, list):
        names = "|".join(value) or "0"
        return f"{names} ({args['mask']})" if "mask" in args else names
    if key == "data" and isinstance(value, str):  # a buffer; epoll_ctl's data is a number
        return f'"{value}"' + ("…" if args.get("truncated") else "")
    if key == "iov" and isinstance(value, list):  # strace's style: {"bytes", iov_len}
        return "[" + ", ".join(f'{{"{v["data"]}"{"…" if v["truncated"] else ""}, {v["len"]}}}' for v in value) + "]"
    if key == "msgs" and isinstance(value, list):  # sendmmsg/recvmmsg: each message as a call's args
        return "[" + "; ".join(args_text(m) for m in value) + "]"
    if key == "fds" and isinstance(value, list):  # poll's array
        return "[" + ", ".join(f"{p['fd']} {p.get('events') or p.get('revents') or '0'}" for p in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)


def args_text(args: dict[str, Any], sock: dict[str, Any] | None = None) -> str:
    parts: list[str] = []
    for key, value in args.items():
        if key in ("mask", "truncated") or value in ("", None) and key != "addr":
            continue
        if key == "fd" and isinstance(value, int):  # the lab's style: a call's own fd comes first, bare
            parts.append(f"{'' if not parts else 'fd='}{value}{socket_text(sock)}")
        elif key in FD_KEYS:
            parts.append(f"{key}={value}")
        else:
            parts.append(f"{key}={_value(key, value, args)}")
    return ", ".join(parts)


def stop_text(e: StopEvent) -> str:
    return f"{e.call}({args_text(e.args, e.socket)})"


def return_text(e: StepEvent) -> str:
    """What a traced call returned: the value or errno, and what it filled in."""
    text = f"= {e.ret}" + (f" {e.errno}" if e.errno else "")
    # epoll's ready list has its own lines (EpollEvent); poll's is shown here
    skip = ("ready",) if e.call.startswith("epoll") else ()
    extra = {("fds" if k == "ready" else k): v for k, v in e.result.items() if k not in skip and v not in (None, "", [])}
    if extra.get("fd") == e.ret:
        extra.pop("fd")
    if extra:
        text += "  " + args_text(extra)
    return text


def prediction_words(e: StopEvent) -> str:
    return "; ".join(f"fd {p['fd']}: {p['outcome']} [{p['branch']}] {p['text']}" for p in e.prediction or []) or "nothing"


def parked_text(e: StopEvent) -> str:
    """A parked closing call in one line: what it will send, and who else holds the socket."""
    parts = []
    for p in e.prediction or []:
        holders = ", ".join(f"pid {h['pid']} ({h['process']}) fd {h['fd']}" for h in p.get("holders", []))
        parts.append(f"predicted {p['outcome']} [{p['branch']}] {p['text']}" + (f" · still held by {holders}" if holders else ""))
    head = f"{e.actor} parked at [{e.step}] {e.call}({e.args.get('fd', '')}{socket_text(e.socket)})"
    return f"{head} — {' · '.join(parts) or 'no TCP socket to close'} — n runs it"
