"""Opening a path the user gave without letting it hang or flood the process.

A plain ``open()`` blocks on a FIFO until its other end appears and reads a device or a huge file
to the end. Every reader and writer of a user-given path goes through here instead:

- inputs are opened non-blocking and checked with ``fstat`` on the open fd before a byte is read:
  a regular file only (a FIFO too where a stream is legitimate, e.g. ``watch -r``), read up to a
  stated size;
- outputs are opened non-blocking too: a regular file, or a FIFO that has a reader (a FIFO nobody
  reads is an error at once, not a hang) or a character device such as ``/dev/null``; never a
  block device or a directory.

Every failure is a :class:`FileError` whose ``str()`` is one line naming the path.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from typing import BinaryIO

from tuiexplore.safetext import terminal

_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class FileError(Exception):
    """A path that cannot be read or written as asked; ``str()`` is one line naming it."""


def kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENXIO:  # O_WRONLY|O_NONBLOCK on a FIFO without a reader (or a socket)
        return "no process reads this FIFO: start its reader first"
    return exc.strerror or str(exc)


def read_regular(path: str, limit: int, what: str = "") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``what`` names the file in the
    size message ("a scenario file", "tcp.c")."""
    where = terminal(path)
    try:
        fd = os.open(path, _READ)
    except OSError as exc:
        raise FileError(f"{where}: cannot open it ({_why(exc)})") from None
    except ValueError as exc:  # a NUL in the path
        raise FileError(f"{where}: cannot open it ({exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileError(f"{where}: {kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise FileError(_too_big(where, limit, what))
        chunks, size = [], 0
        while size <= limit:  # the file may grow after fstat: the limit holds while reading too
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileError(f"{where}: cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)
    if size > limit:
        raise FileError(_too_big(where, limit, what))
    return b"".join(chunks)


def _too_big(where: str, limit: int, what: str) -> str:
    return f"{where}: larger than {limit} bytes, the limit for {what or 'this file'}"


def open_input(path: str, stream_ok: bool = False) -> BinaryIO:
    """A regular file (or, with ``stream_ok``, a FIFO) opened for reading. A FIFO is opened
    blocking: waiting for its writer is what reading a FIFO means, as reading stdin does."""
    where = terminal(path)
    try:
        if stream_ok and stat.S_ISFIFO(os.stat(path).st_mode):
            return open(path, "rb")  # noqa: SIM115 - the caller closes it
        fd = os.open(path, _READ)
    except (OSError, ValueError) as exc:
        raise FileError(f"{where}: cannot open it ({_why(exc) if isinstance(exc, OSError) else exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # also a FIFO swapped in after the stat above: refused, not waited on
            raise FileError(f"{where}: {kind(mode)}, not a regular file")
        _blocking(fd)
        f = os.fdopen(fd, "rb")
        fd = -1
        return f
    except OSError as exc:
        raise FileError(f"{where}: cannot read it ({exc.strerror})") from None
    finally:
        if fd >= 0:
            os.close(fd)


def open_output(path: str, append: bool = False) -> BinaryIO:
    """``path`` opened for writing (truncated unless ``append``). A regular file, a FIFO with a
    reader, or a character device (``/dev/null``, a terminal); the open never blocks."""
    where = terminal(path)
    try:
        fd = os.open(path, _WRITE | (os.O_APPEND if append else 0), 0o666)
    except OSError as exc:
        raise FileError(f"{where}: cannot write there ({_why(exc)})") from None
    except ValueError as exc:
        raise FileError(f"{where}: cannot write there ({exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            raise FileError(f"{where}: {kind(mode)}, not a file to write to")
        if stat.S_ISREG(mode) and not append:
            os.ftruncate(fd, 0)  # after the check: a FIFO or device is never truncated
        _blocking(fd)  # a reader slower than us is waited for, as with a shell redirection
        f = os.fdopen(fd, "wb")
        fd = -1
        return f
    except OSError as exc:
        raise FileError(f"{where}: cannot write there ({exc.strerror})") from None
    finally:
        if fd >= 0:
            os.close(fd)


def write_file(path: str, data: bytes) -> None:
    """``data`` written to ``path`` through :func:`open_output`; a failed write names the path."""
    f = open_output(path)
    try:
        f.write(data)
        f.flush()
    except OSError as exc:
        raise FileError(f"{terminal(path)}: cannot write there ({exc.strerror})") from None
    finally:
        try:
            f.close()
        except OSError:
            pass  # the flush above already failed and said so


def check_output(path: str) -> None:
    """That ``path`` can be written now. A regular file is opened for appending (created and
    removed if it was not there); a FIFO is opened without blocking, which fails at once when
    nothing reads it, and that end is kept open until this process exits, since closing it
    would hand the reader an EOF before the real output; a device is only checked for
    permission, as opening one may have effects of its own."""
    where = terminal(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except (OSError, ValueError) as exc:
        raise FileError(f"{where}: cannot write there ({getattr(exc, 'strerror', None) or exc})") from None
    if mode is not None and stat.S_ISCHR(mode):
        if not os.access(path, os.W_OK):
            raise FileError(f"{where}: cannot write there (Permission denied)")
        return
    f = open_output(path, append=True)
    if mode is not None and stat.S_ISFIFO(mode):
        _HELD.append(f)
        return
    f.close()
    if mode is None:
        os.unlink(path)


_HELD: list[BinaryIO] = []  # FIFOs proved to have a reader, held open (see check_output)


def _blocking(fd: int) -> None:
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
