"""sendmsg/recvmsg and writev/readv over a loopback TCP pair and a UDP pair."""

import os
import socket
import sys

ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
c = socket.create_connection(ls.getsockname())
s, _ = ls.accept()
c.sendmsg([b"he", b"llo\x1b[31m"], [], socket.MSG_NOSIGNAL)
data, anc, flags, addr = s.recvmsg(4)  # 4 of the 9 bytes: the rest stays queued
print("recvmsg", data, flags)
buf = bytearray(8)
n = s.recvmsg_into([memoryview(buf)[:3], memoryview(buf)[3:]])[0]
print("recvmsg_into", n, bytes(buf[:n]))
os.writev(c.fileno(), [b"ab", b"cd"])
print("readv", os.readv(s.fileno(), [bytearray(1), bytearray(8)]))
u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u1.bind(("127.0.0.1", 0))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u2.sendmsg([b"datagram-too-long"], [], 0, u1.getsockname())
d, _, f, a = u1.recvmsg(8)  # truncated: MSG_TRUNC in msg_flags
print("udp", d, f & socket.MSG_TRUNC != 0, a[0])
for x in (c, s, u1, u2, ls):
    x.close()
sys.stdout.flush()
