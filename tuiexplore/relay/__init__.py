"""The lab's own wire: two network namespaces joined through a relay in the agent.

Split as packetdrill splits it: ``netns.py`` (namespaces held by a file descriptor), ``tun.py``
(the device, as ``netdev.c``), ``relay.py`` (every frame read once, in order, and written on, as
``run_packet.c``), ``topology.py`` (which actor lives on which side, and what the lab reads from
both namespaces).
"""
