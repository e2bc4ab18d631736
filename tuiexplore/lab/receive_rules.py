"""Where kernels of one version line differ on receipt, and the version does not say which
(stable trees take such fixes): each rule is read from the kernel's own source or asked of the
kernel by a probe (kernel_rules_probe.py... see its users), None where neither was at hand.
The predictor then follows the older code and says the rule is not known."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReceiveRules:
    # tcp_data_queue()'s zero-window test lets a bare FIN through ("tcp: accept bare FIN packets
    # under memory pressure"; bare_fin_probe.py).
    bare_fin: bool | None = None
    # tcp_ack() answers an ACK of data never sent (after SND.NXT) with a challenge ACK, where
    # older code only dropped it (ack_probe.py).
    ack_unsent_challenge: bool | None = None
    # tcp_ack()'s RFC 5961 5.2 bound for a too-old ACK is min(max_window, bytes_acked) ("tcp: do
    # not accept ACK of bytes we never sent"), where older code took max_window alone (ack_probe.py).
    ack_old_bytes_acked: bool | None = None


UNKNOWN = ReceiveRules()  # no source, no probe: every rule not known
