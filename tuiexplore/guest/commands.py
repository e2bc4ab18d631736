"""The command line's view of guest kernels: ``tuiexplore kernels [get LABEL]`` and ``--kernel``."""

from __future__ import annotations

import os
import sys

from tuiexplore.guest import catalog
from tuiexplore.guest.machine import Guest, GuestError, find_tools, kvm_usable

HOST = "host"


def resolve(name: str | None) -> Guest | None:
    """``--kernel NAME``: a cached kernel, a path to a vmlinuz, or ``host`` (None: no guest).
    Raises GuestError with one line for the user."""
    host = catalog.host_release()
    if name is None or name == HOST or host == name or host.startswith((name + ".", name + "-")):
        return None
    if os.sep in name or os.path.isfile(name):
        if not os.path.isfile(name):
            raise GuestError(f"{name}: no such kernel image")
        kernel = catalog.from_vmlinuz(name)
    else:
        found = catalog.find(name)
        if found is None:
            have = ", ".join(k.label for k in catalog.cached()) or "none yet"
            raise GuestError(
                f"no cached kernel {name!r} (cached: {have}); fetch one with 'tuiexplore kernels get LINE' "
                f"(lines: {', '.join(catalog.ORIGINS)}) or give a path to a vmlinuz"
            )
        kernel = found
    find_tools()
    return Guest(kernel)


def kernels(action: str | None, line: str | None, source: bool = True) -> int:
    if action is None:
        return _list()
    if not line:
        print(f"tuiexplore: which kernel line? kernels get LINE ({', '.join(catalog.ORIGINS)})", file=sys.stderr)
        return 2
    return _get(line, source)


def _list() -> int:
    print(f"{HOST:<6} Linux {catalog.host_release()} (this machine; the default)")
    for k in catalog.cached():
        extra = ["initramfs" if k.initramfs else "virtio built in", "tcp.c" if k.source else "no tcp.c"]
        print(f"{k.label:<6} Linux {k.version} ({k.release}) {k.path} [{', '.join(extra)}]")
    missing = [label for label in catalog.ORIGINS if catalog.find(label) is None]
    if missing:
        print(f"# fetch more with 'tuiexplore kernels get LINE' ({', '.join(missing)})")
    try:
        find_tools()
        print(f"# guests run under QEMU {'KVM' if kvm_usable() else 'TCG (no usable hardware KVM here)'}")
    except GuestError as exc:
        print(f"# {exc}")
    return 0


def _get(label: str, source: bool) -> int:
    from tuiexplore.guest.fetch import FetchError, get
    from tuiexplore.guest.initramfs import InitramfsError

    try:
        k = get(label, lambda line: print(f"kernels: {line}", file=sys.stderr, flush=True), source=source)
    except (FetchError, InitramfsError) as exc:
        print(f"tuiexplore: {exc}", file=sys.stderr)
        return 1
    print(f"{k.label}: Linux {k.version} ready; run a scenario on it with 'tuiexplore run SCENARIO --kernel {k.label}'")
    try:
        find_tools()
    except GuestError as exc:
        print(f"# {exc}")
    return 0
