#!/bin/bash
# Throw-away namespace pair: lrA (sender) -- lrB (REJECT rules). Deleted at the end.
set -e
trap 'ip netns del lrA 2>/dev/null; ip netns del lrB 2>/dev/null' EXIT
ip netns add lrA; ip netns add lrB
ip link add lrva type veth peer name lrvb
ip link set lrva netns lrA; ip link set lrvb netns lrB
ip -n lrA addr add 198.51.100.2/24 dev lrva; ip -n lrB addr add 198.51.100.1/24 dev lrvb
ip -n lrA link set lrva up; ip -n lrB link set lrvb up; ip -n lrA link set lo up; ip -n lrB link set lo up
ip netns exec lrB iptables-nft -A INPUT -p tcp --dport 1000 -j REJECT --reject-with tcp-reset
ip netns exec lrB iptables-nft -A INPUT -p udp --dport 1001 -j REJECT
sleep 0.3
ip netns exec lrA /usr/bin/python3 - <<'PY'
from scapy.all import IP, TCP, UDP, Raw, sr1, conf
conf.verb = 0
for pkt in [IP(src="198.51.100.2", dst="198.51.100.1", id=0xB001, tos=0x10)/TCP(sport=40001, dport=1000, flags="S", seq=2000, window=64240),
            IP(src="198.51.100.2", dst="198.51.100.1", id=0xB002)/UDP(sport=40002, dport=1001)/Raw(b"xyz")]:
    r = sr1(pkt, timeout=2, iface="lrva")
    print(bytes(pkt).hex())
    print(bytes(r).hex() if r is not None else "none")
PY
