"""The send-window fields of ``struct tcp_info`` (include/uapi/linux/tcp.h), where the kernel has them.

``tcpi_snd_wnd`` (offset 228) arrived in 5.4 ("tcp: Add snd_wnd to TCP_INFO"); ``getsockopt()``
copies ``min(len, sizeof(struct tcp_info))``, so a shorter answer means this kernel lacks it.
Stdlib only: the actors import it.
"""

from __future__ import annotations

import struct
from typing import Any

TCP_INFO_LEN = 232  # through tcpi_snd_wnd
_SND_WND = 228


def window_fields(info: bytes) -> dict[str, Any]:
    """``snd_wscale`` (the low nibble of byte 6) always; ``snd_wnd`` when the kernel reports it."""
    d: dict[str, Any] = {"snd_wscale": info[6] & 0x0F}
    if len(info) >= _SND_WND + 4:
        d["snd_wnd"] = struct.unpack_from("I", info, _SND_WND)[0]
    return d
