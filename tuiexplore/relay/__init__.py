"""The lab's own wire: two network namespaces joined through a relay in the agent.

Split as packetdrill splits it: ``netns.py`` (namespaces held by a file descriptor), ``link.py``
(the devices, as ``netdev.c``: veth pairs, addresses, neighbours), ``relay.py`` (every frame
read once, in order, and written on, as ``run_packet.c``), ``control.py`` (hold, release, drop,
duplicate, delay: what the relay does with the next segments), ``segment.py`` and ``peer.py``
(the scripted peer: segments built from the relay's view of the connection, and checked, as
``run_packet.c`` does), ``capture.py`` (the relay and the
server side's ``lo`` as one capture), ``topology.py`` (which actor lives on which side, and what
the lab reads from both namespaces).
"""
