"""The sending fields of ``struct tcp_info`` (include/uapi/linux/tcp.h), where the kernel has them.

``tcpi_snd_wnd`` (offset 228) arrived in 5.4 ("tcp: Add snd_wnd to TCP_INFO"); ``getsockopt()``
copies ``min(len, sizeof(struct tcp_info))``, so a shorter answer means this kernel lacks it.
Stdlib only: the actors import it.
"""

from __future__ import annotations

import struct
from typing import Any

TCP_INFO_LEN = 232  # through tcpi_snd_wnd
_SND_WND = 228
_IN_FLIGHT = struct.Struct("IIII")  # tcpi_unacked, tcpi_sacked, tcpi_lost, tcpi_retrans at 24
_SND_MSS, _SND_CWND = 16, 80


def window_fields(info: bytes) -> dict[str, Any]:
    """``snd_wscale`` (the low nibble of byte 6) and the congestion window's room always;
    ``snd_wnd`` when the kernel reports it. The room is what tcp_cwnd_test() compares:
    snd_cwnd minus tcp_packets_in_flight() = packets_out - (sacked_out + lost_out) + retrans_out."""
    unacked, sacked, lost, retrans = _IN_FLIGHT.unpack_from(info, 24)
    d: dict[str, Any] = {
        "snd_wscale": info[6] & 0x0F,
        "snd_mss": struct.unpack_from("I", info, _SND_MSS)[0],
        "cwnd_room": struct.unpack_from("I", info, _SND_CWND)[0] - (unacked - sacked - lost + retrans),
    }
    if len(info) >= _SND_WND + 4:
        d["snd_wnd"] = struct.unpack_from("I", info, _SND_WND)[0]
    return d
