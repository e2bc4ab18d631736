#!/bin/sh
# How the pcapng test data was made, by the real tools (Wireshark 4.0.17's dumpcap, mergecap,
# tshark), as root, in a fresh network namespace: run `unshare -n sh make.sh` here.
#   multi.pcapng: two captures merged, interface 0 on lo (Ethernet, link type 1), interface 1
#     on "any" (Linux cooked, link type 113), each with conns.py's teardowns on its own ports;
#   lo.pcap, any.pcap: the same two captures written as pcap by tshark;
#   watch-world.pcapng: tests/data/watch-world.pcap written as pcapng by tshark.
set -e
ip link set lo up
dumpcap -q -i lo -f "tcp portrange 6001-6003" -w lo.pcapng & P=$!; sleep 1.5
python3 conns.py 6001; sleep 0.5; kill -INT $P; wait $P || true
dumpcap -q -i any -f "tcp portrange 7001-7003" -w any.pcapng & P=$!; sleep 1.5
python3 conns.py 7001; sleep 0.5; kill -INT $P; wait $P || true
mergecap -w multi.pcapng lo.pcapng any.pcapng
tshark -r lo.pcapng -F pcap -w lo.pcap
tshark -r any.pcapng -F pcap -w any.pcap
tshark -r ../watch-world.pcap -F pcapng -w watch-world.pcapng
rm lo.pcapng any.pcapng
