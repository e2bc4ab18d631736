"""Members of a kernel source tarball, read in one pass with every size checked before it is read.

Its own module so that tarfile and its codecs are imported only when a tarball is there to read
(kernel/source.py imports it then): a run on a machine without kernel sources never pays for them.
"""

from __future__ import annotations

import lzma
import tarfile
import zlib

from tuiexplore.files import FileError, open_input
from tuiexplore.safetext import terminal

HEADER_MAX = 1024 * 1024  # a member's pax or long-name record (a few hundred bytes in practice)


def read_members(path: str, wanted: dict[str, tuple[int, str]]) -> dict[str, bytes]:
    """The bytes of each member named in ``wanted`` (its path below the top directory -> (size
    limit, what it is, for the error)), streaming the file once and stopping when all are read.
    A damaged or hostile tarball is an OSError saying what is wrong; a member of the wrong kind
    or size a FileError."""
    got: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=open_input(path), mode="r|*", tarinfo=_BoundedInfo) as tar:
            for member in tar:
                parts = member.name.split("/", 1)
                rel = parts[1] if len(parts) == 2 else ""
                if rel in wanted and rel not in got:
                    got[rel] = _member(tar, member, path, *wanted[rel])
                    if len(got) == len(wanted):
                        break
    except (tarfile.TarError, zlib.error, lzma.LZMAError) as exc:
        raise OSError(str(exc)) from exc
    return got


class _BoundedInfo(tarfile.TarInfo):
    """tarfile reads a pax or GNU long-name header record whole into memory: its size is checked
    first (a 200 KB tar.gz with a 200 MB pax record took 850 MB)."""

    def _proc_pax(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        self._bound()
        return super()._proc_pax(tarfile)  # type: ignore[misc]  # tarfile's private hook: typeshed omits it

    def _proc_gnulong(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        self._bound()
        return super()._proc_gnulong(tarfile)  # type: ignore[misc]  # tarfile's private hook: typeshed omits it

    def _bound(self) -> None:
        if self.size > HEADER_MAX:
            raise tarfile.HeaderError(f"a {self.size}-byte header record, more than {HEADER_MAX}")


def _member(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, limit: int, what: str) -> bytes:
    """One member's bytes: a regular file within ``limit``, checked on its header before a byte
    is read, and again while reading."""
    where = f"{terminal(path)}: {terminal(member.name)}"
    if not member.isreg():
        kinds = ((member.isdir, "a directory"), (member.isfifo, "a FIFO"), (member.issym, "a symbolic link"))
        kind = next((k for test, k in kinds if test()), "a link or a device")
        raise FileError(f"{where} is {kind}, not a regular file")
    f = tar.extractfile(member)
    data = f.read(limit + 1) if f is not None and member.size <= limit else b"x" * (limit + 1)
    if len(data) > limit:
        raise FileError(f"{where}: larger than {limit} bytes, the limit for {what}")
    return data
