"""Finding the running kernel's own tcp_close source, and caching what was extracted.

Order: ``--kernel-src PATH`` (a tree or a ``linux-*.tar.*``), ``$TUIEXPLORE_KERNEL_SRC``,
``/lib/modules/$(uname -r)/build`` and ``source``, ``/usr/src/linux*`` trees, then a
Debian/Ubuntu ``linux-source-*`` tarball in ``/usr/src``. Only ``Makefile`` (for the version) and
``net/ipv4/tcp.c`` are read; a tarball is streamed, never unpacked. Extracts are cached per
source in the user's cache directory, so the slow path (an xz tarball: ~10 s) runs once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tuiexplore.files import FileError, read_regular
from tuiexplore.kernel.excerpt import Excerpt, bundled, extract, locate
from tuiexplore.safetext import terminal

ENV = "TUIEXPLORE_KERNEL_SRC"
TCP_C = "net/ipv4/tcp.c"
# What is read of a source, at most: tcp.c is ~150 KB in every kernel so far, its Makefile ~70 KB.
TCP_C_MAX = 4 * 1024 * 1024
MAKEFILE_MAX = 1024 * 1024
CACHE_FORMAT = 2  # the extract cache's layout; another version's files are not read
CACHE_MAX = 4 * 1024 * 1024
TARBALL = re.compile(r"linux(-source)?-[\w.+~-]*\.tar(\.(xz|gz|bz2|zst))?$")


class SourceError(RuntimeError):
    """A source given explicitly is unusable; the message says why."""


@dataclass(frozen=True)
class Found:
    path: str  # the tree or tarball
    how: str  # which rule found it ("--kernel-src", "$TUIEXPLORE_KERNEL_SRC", ...)


def candidates(
    kernel_src: str | None = None,
    env: Mapping[str, str] | None = None,
    release: str | None = None,
    lib_modules: str = "/lib/modules",
    usr_src: str = "/usr/src",
) -> list[Found]:
    env = os.environ if env is None else env
    release = release or platform.release()
    out: list[Found] = []
    if kernel_src:
        out.append(Found(kernel_src, "--kernel-src"))
    if env.get(ENV):
        out.append(Found(env[ENV], f"${ENV}"))
    for sub in ("build", "source"):
        out.append(Found(os.path.join(lib_modules, release, sub), f"{lib_modules}/$(uname -r)/{sub}"))
    try:
        names = sorted(os.listdir(usr_src), reverse=True)
    except OSError:
        names = []
    out += [
        Found(os.path.join(usr_src, n), f"{usr_src}/linux*")
        for n in names
        if n.startswith("linux") and os.path.isdir(os.path.join(usr_src, n))
    ]
    out += [Found(os.path.join(usr_src, n), f"{usr_src}/linux-source-* tarball") for n in names if TARBALL.match(n)]
    return out


def _version(makefile: str) -> str:
    nums = [re.search(rf"^{k}\s*=\s*(\S*)", makefile, re.M) for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL")]
    parts = [m[1] for m in nums if m and m[1]]
    return ".".join(parts)


def read_tree(path: str) -> tuple[str, str] | None:
    """(version, tcp.c text) from an unpacked tree, or None when it has no tcp.c. Each file is
    read only as a regular file within its size limit (a FIFO there would block a plain read)."""
    tcp = os.path.join(path, TCP_C)
    if not os.path.lexists(tcp):
        return None
    makefile = os.path.join(path, "Makefile")
    version = _version(_text(read_regular(makefile, MAKEFILE_MAX, "a kernel Makefile"))) if os.path.lexists(makefile) else ""
    return version, _text(read_regular(tcp, TCP_C_MAX, TCP_C))


def read_tarball(path: str) -> tuple[str, str] | None:
    """Stream the tarball once, keeping only the top Makefile and net/ipv4/tcp.c."""
    version, texts = tarball_files(path, (TCP_C,))
    return (version, texts[TCP_C]) if TCP_C in texts else None


def tarball_files(path: str, files: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """(version, each of ``files`` found -> its text), streaming the tarball once."""
    from tuiexplore.kernel import tarball  # tarfile and its codecs: only when there is a tarball to read

    wanted = {"Makefile": (MAKEFILE_MAX, "a kernel Makefile"), **{f: (TCP_C_MAX, f) for f in files}}
    got = tarball.read_members(path, wanted)
    return _version(_text(got.get("Makefile", b""))), {f: _text(got[f]) for f in files if f in got}


def _text(data: bytes) -> str:
    return data.decode(errors="replace")


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tuiexplore"


def _cache_file(path: str, env: Mapping[str, str] | None) -> Path:
    import hashlib  # here: OpenSSL's load is a cost for every run, and most machines have no source to cache

    st = os.stat(path)
    key = hashlib.sha256(f"{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir(env) / f"tcp_close-v{CACHE_FORMAT}-{key}.json"


# The cached fields and their types: a file of another version or a damaged one fails this check
# and is rebuilt from the source, never trusted.
_CACHED = {"lines": list, "first_line": int, "version": str, "licence": str, "hint": str, "table": list, "table_first_line": int}


def _from_cache(cached: Path) -> Excerpt | None:
    try:
        d = json.loads(read_regular(str(cached), CACHE_MAX, "a cache file"))
    except (FileError, ValueError):
        return None
    if not isinstance(d, dict) or d.get("format") != CACHE_FORMAT:
        return None
    if any(type(d.get(k)) is not t for k, t in _CACHED.items()) or d["first_line"] < 1 or d["table_first_line"] < 0:
        return None
    if not all(type(x) is str for x in [*d["lines"], *d["table"]]):
        return None
    lines, first = d["lines"], d["first_line"]
    branches = locate(lines, first)
    return Excerpt(lines, first, d["version"], "", d["licence"], branches, d["hint"], d["table"], d["table_first_line"])


def _to_cache(cached: Path, ex: Excerpt) -> None:
    """Written whole or not at all (a reader never sees half a file); no cache is no failure."""
    data = {"format": CACHE_FORMAT, **{k: getattr(ex, k) for k in _CACHED}}
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".tcp_close-")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, cached)
    except OSError:
        pass


def load(found: Found, env: Mapping[str, str] | None = None) -> Excerpt | None:
    """The excerpt from one candidate (cached), or None if it has no usable tcp.c."""
    path = found.path
    if not os.path.exists(path):
        return None
    is_tar = not os.path.isdir(path)
    try:
        cached: Path | None = _cache_file(path, env)
    except OSError:
        cached = None
    ex = _from_cache(cached) if cached else None
    if ex is not None:
        return dataclasses.replace(ex, origin=_origin(found, is_tar, ex))
    try:
        got = read_tarball(path) if is_tar else read_tree(path)
    except FileError as exc:
        if found.how == "--kernel-src":
            raise SourceError(str(exc)) from None
        return None
    except (OSError, EOFError) as exc:  # a bad tarball too (kernel/tarball.py)
        if found.how == "--kernel-src":
            raise SourceError(f"{terminal(path)}: cannot read it ({exc})") from None
        return None
    if got is None:
        return None
    version, text = got
    ex = extract(text, version, "")
    if ex is None:
        return None
    ex = dataclasses.replace(ex, origin=_origin(found, is_tar, ex))
    if cached is not None:
        _to_cache(cached, ex)
    return ex


def _origin(found: Found, is_tar: bool, ex: Excerpt) -> str:
    """Where the text came from, for the panel title (not cached: the same file may be found by
    another rule next time)."""
    kind = "tarball" if is_tar else "tree"
    return f"{kind} {found.path} ({found.how}): Linux {ex.version or '?'}, {TCP_C} {ex.first_line}-{ex.last_line}, GPL-2.0"


def discover(kernel_src: str | None = None, env: Mapping[str, str] | None = None, **where: str) -> Excerpt:
    """The first usable source in discovery order, else the bundled excerpt with its hint."""
    if kernel_src and not os.path.exists(kernel_src):
        raise SourceError(f"{kernel_src}: no such file or directory (give a kernel tree or a linux-*.tar.* file)")
    for found in candidates(kernel_src, env, **where):
        ex = load(found, env)
        if ex is not None:
            return ex
        if found.how == "--kernel-src":
            raise SourceError(f"{kernel_src}: no {TCP_C} with a tcp_close() in it")
    return bundled()
