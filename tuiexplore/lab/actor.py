"""One actor: an OS process of its own that performs exactly one syscall per request.

Run as ``python -m tuiexplore.lab.actor NAME PARENT_PID`` by the lab agent (through
``lab/actors.py``), inside the lab's namespace. Requests and replies are the typed messages of
``lab/protocol.py`` as JSON lines on stdin/stdout. The syscall runs on a worker thread so that a
call that blocks (accept, read, close with SO_LINGER) never hangs the lab: the reply is then
``Blocked``, and a late ``Returned`` follows when the kernel lets the call return. A request
while one is still in the kernel is ``Refused``; an error that is not the kernel's is ``Failed``.

Only the standard library is imported here: an actor must start fast and stay small.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno as errno_mod
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any

from tuiexplore.domain import SocketRow
from tuiexplore.lab import inkernel
from tuiexplore.lab.calls import (
    SHUTDOWN_HOW,
    SIOCINQ,
    SIOCOUTQ,
    SIOCOUTQNSD,
    SOCKOPTS,
    TCP_INFO,
    TCP_LINGER2,
    TCP_STATES,
    epoll_mask,
    epoll_names,
)
from tuiexplore.lab.codec import encode
from tuiexplore.lab.protocol import ActorReply, ActorRequest, Blocked, Failed, Refused, Returned, Sockets, decode_request
from tuiexplore.lab.tcpinfo import TCP_INFO_LEN, window_fields

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class UnknownName(LookupError):
    """A request names an fd this actor does not hold (e.g. one a blocked accept never returned)."""


class _Names(dict):
    def __init__(self, actor: str) -> None:
        super().__init__()
        self.actor = actor

    def __missing__(self, key: str) -> Any:
        raise UnknownName(f"{self.actor} holds no fd named {key!r}")


class Actor:
    def __init__(self, name: str) -> None:
        self.name = name
        # Where its sockets bind, and the server they connect to: loopback, or on the relay's wire
        # its side's address and the server side's (relay/topology.py starts it in its side).
        # Read here, not at import: a fork of the agent has the module already.
        self.local = os.environ.get("TUIEXPLORE_LAB_ADDR", "127.0.0.1")
        self.server = os.environ.get("TUIEXPLORE_LAB_SERVER", "127.0.0.1")
        self.objs: dict[str, Any] = _Names(name)  # fd name -> socket.socket | select.epoll
        self.dialled: dict[str, int] = {}  # fd name -> the port its last connect() went to
        self.out_lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------
    def send(self, msg: ActorReply) -> None:
        line = encode(msg) + "\n"
        with self.out_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def fileno_of(self, name: str) -> int:
        obj = self.objs.get(name)
        if obj is None:
            raise OSError(errno_mod.EBADF, f"no fd named {name!r} in {self.name}")
        return obj.fileno()

    # -- inventory: what the kernel says about each of our sockets ---------------------------
    def inventory(self) -> list[SocketRow]:
        return [self.describe(n) for n, o in self.objs.items() if isinstance(o, socket.socket) and o.fileno() >= 0]

    def describe(self, name: str) -> SocketRow:
        sock = self.objs[name]
        fd = sock.fileno()
        info = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, TCP_INFO_LEN)
        state = TCP_STATES.get(info[0], str(info[0]))
        unacked, sacked = struct.unpack_from("II", info, 24)
        on, secs = struct.unpack("ii", sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
        d: dict[str, Any] = {
            "name": name,
            "fd": fd,
            "state": state,
            "linger": [on, secs],
            "linger2": struct.unpack("i", sock.getsockopt(socket.IPPROTO_TCP, TCP_LINGER2, 4))[0],
            "nonblocking": not sock.getblocking(),
        }
        try:
            d["lport"] = sock.getsockname()[1]
        except OSError:
            d["lport"] = 0
        try:
            d["rport"] = sock.getpeername()[1]
        except OSError:  # ENOTCONN in SYN_SENT too (inet_getname()): the port it dialled
            d["rport"] = self.dialled.get(name, 0) if state == "SYN_SENT" else 0
        if state == "LISTEN":
            # For a listener TCP_INFO reports the accept queue: unacked = length, sacked = backlog.
            d.update(accept_queue=unacked, backlog=sacked, inq=0, outq=0, unsent=0)
        else:
            d.update(inq=_ioctl_int(fd, SIOCINQ), outq=_ioctl_int(fd, SIOCOUTQ), unsent=_ioctl_int(fd, SIOCOUTQNSD))
            d.update(window_fields(info))
        d["linger"] = tuple(d["linger"])
        return SocketRow(**d)

    # -- the calls ---------------------------------------------------------------------------
    def do(self, call: str, a: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Perform one syscall. Returns (ret, result); raises OSError with the kernel's errno."""
        if call == "socket":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.objs[a["as"]] = s
            return s.fileno(), {"fd": a["as"]}
        if call == "epoll_create":
            ep = select.epoll()
            self.objs[a["as"]] = ep
            return ep.fileno(), {"fd": a["as"]}
        if call == "setsockopt":
            level, opt = SOCKOPTS[a["option"]]
            value = a["value"]
            raw = struct.pack("ii", *value) if a["option"] == "SO_LINGER" else struct.pack("i", value)
            socket.socket.setsockopt(self.objs[a["fd"]], level, opt, raw)
            return 0, {}
        if call == "bind":
            self.objs[a["fd"]].bind((self.local, a["port"]))
            return 0, {}
        if call == "listen":
            self.objs[a["fd"]].listen(a["backlog"])
            return 0, {}
        if call == "connect":
            return self.connect(a)
        if call == "accept":
            conn, addr = self.objs[a["fd"]].accept()
            self.objs[a["as"]] = conn
            return conn.fileno(), {"fd": a["as"], "peer_port": addr[1]}
        if call == "epoll_ctl":
            ep = self.objs[a["ep"]]
            fd = self.fileno_of(a["fd"])
            mask = epoll_mask(a["events"])
            {"ADD": lambda: ep.register(fd, mask), "MOD": lambda: ep.modify(fd, mask), "DEL": lambda: ep.unregister(fd)}[
                a["op"]
            ]()
            return 0, {}
        if call == "epoll_wait":
            ep = self.objs[a["ep"]]
            timeout = a["timeout_ms"]
            ready = ep.poll(timeout / 1000 if timeout >= 0 else -1, a["maxevents"])
            by_fd = {o.fileno(): n for n, o in self.objs.items() if o.fileno() >= 0}
            events = [{"fd": by_fd.get(fd, str(fd)), "events": epoll_names(mask), "mask": f"{mask:x}"} for fd, mask in ready]
            return len(ready), {"ready": events}
        if call == "read":
            data = os.read(self.fileno_of(a["fd"]), a["size"])
            return len(data), {"bytes": len(data), "data": _printable(data)}
        if call == "write":
            payload = a["data"].encode() if a.get("data") is not None else b"x" * a["size"]
            n = os.write(self.fileno_of(a["fd"]), payload)
            return n, {"bytes": n}
        if call == "shutdown":
            self.objs[a["fd"]].shutdown(SHUTDOWN_HOW[a["how"]])
            return 0, {}
        if call == "close":
            obj = self.objs[a["fd"]]
            fd = obj.fileno()
            if fd < 0:
                raise OSError(errno_mod.EBADF, "already closed")
            obj.close()
            return 0, {}
        raise OSError(errno_mod.ENOSYS, f"unknown call {call}")

    def connect(self, a: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        sock: socket.socket = self.objs[a["fd"]]
        if a["family"] == "AF_UNSPEC":
            # Python's connect() cannot pass an AF_UNSPEC sockaddr; this is the same syscall.
            addr = struct.pack("H14x", socket.AF_UNSPEC)
            if _libc.connect(sock.fileno(), ctypes.c_char_p(addr), len(addr)) != 0:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
            return 0, {}
        if a["nonblocking"]:
            sock.setblocking(False)
        self.dialled[a["fd"]] = a["port"]
        rc = sock.connect_ex((self.server, a["port"]))
        if rc:
            raise OSError(rc, os.strerror(rc))
        return 0, {}

    # -- request loop ------------------------------------------------------------------------
    def execute(self, req: ActorRequest, done: threading.Event, busy: threading.Lock) -> None:
        t0 = time.time()
        reply: ActorReply
        try:
            ret, result = self.do(req.call, req.args)
            reply = Returned(req.id, ret, None, result, t0, time.time())
        except OSError as exc:
            err = errno_mod.errorcode.get(exc.errno or 0)
            reply = Returned(req.id, -1, err, {"message": exc.strerror or str(exc)}, t0, time.time())
        except Exception as exc:  # noqa: BLE001 - whatever it was, the agent must hear it, not wait for it
            reply = Failed(req.id, f"{req.call}() could not be performed: {_why(exc)}", t0, time.time())
        reply = dataclasses.replace(reply, sockets=self.inventory())
        # Free the actor before replying: the agent sends the next request as soon as it reads this.
        busy.release()
        done.set()
        self.send(reply)

    def run(self) -> None:
        busy = threading.Lock()
        running = 0  # the id of the request on the worker thread
        for line in sys.stdin:
            req = decode_request(line)
            if req.call == "inspect":
                self.send(Sockets(req.id, os.getpid(), self.inventory()))
                continue
            if req.call == "exit":
                now = time.time()
                self.send(Returned(req.id, 0, None, {}, now, now))
                os._exit(0)
            if not busy.acquire(blocking=False):
                self.send(Refused(req.id, running))
                continue
            running = req.id
            done = threading.Event()
            worker = threading.Thread(target=self.execute, args=(req, done, busy), daemon=True)
            worker.start()
            if not done.wait(req.block_s) and inkernel.blocked(worker.native_id, done):
                self.send(Blocked(req.id, time.time()))


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, UnknownName) else f"{type(exc).__name__}: {exc}"


def _ioctl_int(fd: int, req: int) -> int:
    try:
        return struct.unpack("i", fcntl.ioctl(fd, req, b"\0\0\0\0"))[0]
    except OSError:
        return 0


def _printable(data: bytes) -> str:
    """Untrusted payload bytes as printable ASCII; everything else as \\xNN."""
    return "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\x{b:02x}" for b in data[:256])


def main() -> None:
    run(sys.argv[1], int(sys.argv[2]))


def run(name: str, parent: int) -> None:
    """Serve the agent ``parent`` on stdin/stdout until it is gone (as a process of its own, or
    forked from the agent: lab/forked.py)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the agent died before we could ask to die with it
        os._exit(1)
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(f"te-{name}"[:15].encode()))
    Actor(name).run()


if __name__ == "__main__":
    main()
