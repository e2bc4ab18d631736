"""Reading a script's file: never blocking on a FIFO or a device, never past the size limit."""

from __future__ import annotations

import os
import stat

from .lexer import MAX_SCRIPT_BYTES


class PktInputError(Exception):
    """A script that cannot be used: one line naming the file (and line), exit status 2."""


def read_script(path: str) -> str:
    """The file's text, read without blocking on a FIFO or a device and never past the limit."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise PktInputError(f"{path}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PktInputError(f"{path}: not a regular file")
        data = os.read(fd, MAX_SCRIPT_BYTES + 1)
    except OSError as e:
        raise PktInputError(f"{path}: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_SCRIPT_BYTES:
        raise PktInputError(f"{path}: over {MAX_SCRIPT_BYTES} bytes, not a packetdrill script")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PktInputError(f"{path}: not UTF-8 text (byte {e.start})") from None
