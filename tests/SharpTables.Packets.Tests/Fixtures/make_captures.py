#!/usr/bin/python3
"""Capture fixtures for CaptureReaderTests, written by tools other than SharpTables.

  scapy-*.pcap / scapy.pcapng  scapy 2.5's writers (wrpcap, RawPcapWriter, PcapNgWriter)
  handmade-*.pcapng            pcapng blocks packed here with struct, straight from the
                               pcapng draft (big- and little-endian sections, several
                               interfaces, if_tsresol decimal and binary, if_tsoffset, SPB,
                               blocks a reader must skip)
  tcpdump-*.pcap / dumpcap-*.pcapng  real captures on lo inside a throw-away network
                               namespace (run as root; skipped otherwise)

For every file, <file>.tshark.tsv records what tshark (Wireshark 4.0) decodes: the
expectation the C# reader is compared with. Run: sudo /usr/bin/python3 make_captures.py
"""
import logging, os, struct, subprocess, sys, time
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import (Ether, Dot1Q, ARP, IP, TCP, UDP, ICMP, Raw, raw, wrpcap, RawPcapWriter, PcapNgWriter)
from scapy.layers.l2 import CookedLinux, CookedLinuxV2
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)
C, S, C6, S6 = "198.51.100.2", "198.51.100.1", "2001:db8:100::2", "2001:db8:100::1"
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
T0 = 1700000000

v4 = IP(src=C, dst=S, id=0xB001) / TCP(sport=40001, dport=22, flags="S", seq=1000)
v4b = IP(src=S, dst=C, id=2) / UDP(sport=53, dport=40002) / Raw(b"answer")
v6 = IPv6(src=C6, dst=S6) / ICMPv6EchoRequest(id=1, seq=1)


def stamp(pkt, t):
    pkt.time = t
    return pkt


def scapy_files():
    wrpcap("scapy-raw-ipv4.pcap", [stamp(v4.copy(), T0 + 0.000001), stamp(v4b.copy(), T0 + 1.5)])
    wrpcap("scapy-ether-vlan.pcap", [
        stamp(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=42) / v4.copy(), T0 + 2),
        stamp(Ether(src=MAC_B, dst="33:33:00:00:00:01") / v6.copy(), T0 + 3.25),
        stamp(Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=C, pdst=S), T0 + 4),
        stamp(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=7) / Dot1Q(vlan=8) / v4b.copy(), T0 + 5),
    ])
    w = RawPcapWriter("scapy-be-nano-raw.pcap", linktype=101, endianness=">", nano=True)
    w.write_header(None)
    w.write_packet(raw(v4), sec=T0, usec=123456789)
    w.write_packet(raw(v6), sec=T0 + 1, usec=1)
    # a capture cut to 30 bytes with the original length kept
    w.write_packet(raw(v4b)[:30], sec=T0 + 2, usec=0, wirelen=len(v4b))
    w.close()
    wrpcap("scapy-sll.pcap", [
        stamp(CookedLinux(pkttype=4, lladdrtype=1, lladdrlen=6, src=bytes.fromhex("02000000000a0000"), proto=0x0800) / v4.copy(), T0 + 6),
        stamp(CookedLinux(pkttype=0, lladdrtype=772, lladdrlen=6, src=bytes(8), proto=0x86DD) / v6.copy(), T0 + 7),
    ])
    wrpcap("scapy-sll2.pcap", [
        stamp(CookedLinuxV2(proto=0x0800, ifindex=3, lladdrtype=1, pkttype=1, lladdrlen=6, src=bytes.fromhex("02000000000b0000")) / v4b.copy(), T0 + 8),
        stamp(CookedLinuxV2(proto=0x86DD, ifindex=1, lladdrtype=772, pkttype=4, lladdrlen=0, src=bytes(8)) / v6.copy(), T0 + 9),
    ])
    w = RawPcapWriter("scapy-null.pcap", linktype=0)
    w.write_header(None)
    w.write_packet(struct.pack("<I", 2) + raw(v4), sec=T0 + 10, usec=5)
    w.write_packet(struct.pack(">I", 30) + raw(v6), sec=T0 + 11, usec=6)  # AF_INET6 on macOS, big-endian host
    w.close()
    w = RawPcapWriter("scapy-loop.pcap", linktype=108)
    w.write_header(None)
    w.write_packet(struct.pack(">I", 2) + raw(v4b), sec=T0 + 12, usec=7)
    w.close()
    w = PcapNgWriter("scapy.pcapng")
    for i, p in enumerate([Ether(src=MAC_A, dst=MAC_B) / v4.copy(), Ether(src=MAC_B, dst=MAC_A) / v6.copy()]):
        w.write(stamp(p, T0 + 13 + i * 0.5))
    w.close()


def block(e, btype, body):
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def opt(e, code, value):
    return struct.pack(e + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(e):
    return block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + opt(e, 4, b"make_captures.py") + opt(e, 0, b""))


def idb(e, linktype, snaplen, *opts):
    return block(e, 1, struct.pack(e + "HHI", linktype, 0, snaplen) + b"".join(opts) + (opt(e, 0, b"") if opts else b""))


def epb(e, iface, ticks, data, orig=None, *opts):
    body = struct.pack(e + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), orig or len(data)) + data
    body += b"\0" * (-len(body) % 4) + b"".join(opts)
    return block(e, 6, body)


def handmade():
    frame = raw(Ether(src=MAC_A, dst=MAC_B) / v4)
    b = shb(">")
    b += idb(">", 1, 0, opt(">", 2, b"eth0"), opt(">", 9, bytes([9])))                  # ns
    b += idb(">", 101, 65535)                                                           # default: us
    b += idb(">", 228, 0, opt(">", 9, bytes([0x80 | 20])), opt(">", 14, struct.pack(">q", 1000)))  # 2^-20 s, +1000 s
    b += epb(">", 0, T0 * 10**9 + 987654321, frame, None, opt(">", 2, struct.pack(">I", 1)), opt(">", 0, b""))
    b += block(">", 5, struct.pack(">III", 0, 0, 0))                                   # interface statistics: skipped
    b += block(">", 4, struct.pack(">HH", 0, 0))                                        # name resolution: skipped
    b += epb(">", 1, T0 * 10**6 + 250000, raw(v6))
    b += epb(">", 2, (T0 << 20) + (1 << 19), raw(v4b))                                   # x.5 s, plus the offset
    spb = raw(Ether(src=MAC_B, dst=MAC_A) / v4b)
    b += block(">", 3, struct.pack(">I", len(spb)) + spb)                               # simple packet, interface 0
    # second section, little-endian, one SLL2 interface
    b += shb("<")
    sll2 = raw(CookedLinuxV2(proto=0x0800, ifindex=2, lladdrtype=1, pkttype=3, lladdrlen=6, src=bytes.fromhex("02000000000c0000")) / v4)
    b += idb("<", 276, 0, opt("<", 2, b"any"), opt("<", 9, bytes([3])))                  # ms
    b += epb("<", 0, (T0 + 20) * 1000 + 7, sll2)
    with open("handmade-two-sections.pcapng", "wb") as f:
        f.write(b)


def netns_captures():
    if os.geteuid() != 0:
        print("not root: skipping tcpdump/dumpcap captures", file=sys.stderr)
        return
    ns = "sharptables-pk-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        ex = ["ip", "netns", "exec", ns]
        subprocess.run(ex + ["ip", "link", "set", "lo", "up"], check=True)
        runs = [
            ("tcpdump-lo.pcap", ["tcpdump", "-i", "lo", "-U", "-w"]),
            ("tcpdump-lo-nano.pcap", ["tcpdump", "-i", "lo", "-U", "--time-stamp-precision=nano", "-w"]),
            ("tcpdump-any-sll.pcap", ["tcpdump", "-i", "any", "-y", "LINUX_SLL", "-U", "-w"]),
            ("tcpdump-any-sll2.pcap", ["tcpdump", "-i", "any", "-y", "LINUX_SLL2", "-U", "-w"]),
            ("dumpcap-lo.pcapng", ["dumpcap", "-q", "-i", "lo", "-w"]),
        ]
        for name, cmd in runs:
            if os.path.exists(name):
                os.remove(name)
            proc = subprocess.Popen(ex + cmd + [os.path.join(HERE, name)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
            try:
                time.sleep(1.5)  # let the capture start
                subprocess.run(ex + ["/usr/bin/python3", "-c", TRAFFIC], check=True)
                time.sleep(1.0)
            finally:
                proc.send_signal(2)  # SIGINT to the capture we started
                proc.wait(timeout=10)
            os.chmod(name, 0o644)
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)


# UDP to a closed port (ICMP port unreachable back), a refused TCP connection (SYN, RST),
# the same UDP over IPv6 (ICMPv6 unreachable back).
TRAFFIC = """
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x' * 100, ('127.0.0.1', 9))
try:
    socket.create_connection(('127.0.0.1', 9), timeout=1)
except OSError:
    pass
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b'y' * 50, ('::1', 9))
"""

FIELDS = ["frame.number", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_id",
          "frame.interface_name", "eth.src", "eth.dst", "vlan.id", "sll.pkttype", "sll.ltype", "sll.etype",
          "sll.ifindex", "sll.src.eth", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst"]


def tshark_expectations():
    for name in sorted(os.listdir(".")):
        if not name.endswith((".pcap", ".pcapng")):
            continue
        cmd = ["tshark", "-n", "-r", name, "-T", "fields", "-E", "header=y", "-E", "separator=/t", "-E", "occurrence=f"]
        for f in FIELDS:
            cmd += ["-e", f]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        with open(name + ".tshark.tsv", "w") as f:
            f.write(out)


if __name__ == "__main__":
    scapy_files()
    handmade()
    netns_captures()
    tshark_expectations()
