"""The Python twin of client_modes.c: client_modes.py PORT MODE (clean | linger0 | unread)."""

import select
import socket
import struct
import sys

port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
if mode == "linger0":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
elif mode == "unread":
    select.select([s], [], [], 2.0)
s.close()
print(f"client {mode} done")
