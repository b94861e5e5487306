#!/usr/bin/env python3
"""Writes the hand-made fuzz seeds: fuzz/seeds/<target>/<name>.bin.

Seeds are the frames of a `pila demo --pcap` capture, cut at each layer, plus hand-made
packets for what the demo does not send (802.1Q tags, IPv4 options, TCP SACK blocks, ICMP
errors quoting a datagram, IPv6 with extension headers and fragments). Usage: scripts/make-fuzz-corpus.py CAPTURE.pcap
"""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "seeds")


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write(target: str, name: str, data: bytes) -> None:
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name + ".bin"), "wb") as f:
        f.write(data)


def frames(path: str):
    with open(path, "rb") as f:
        data = f.read()
    offset = 24
    while offset + 16 <= len(data):
        incl = struct.unpack_from("<I", data, offset + 8)[0]
        yield data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl


def ipv4(src, dst, proto, payload, options=b""):
    ihl = 5 + len(options) // 4
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), 1, 0x4000, 64, proto, 0, bytes(src), bytes(dst)) + options
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def ipv6(src, dst, next_header, payload, flow=0):
    first = (6 << 28) | flow
    return struct.pack("!IHBB16s16s", first, len(payload), next_header, 64, bytes(src), bytes(dst)) + payload


def ipv6_seeds() -> None:
    a = bytes.fromhex("20010db8000000000000000000000001")
    b = bytes.fromhex("20010db8000000000000000000000002")
    udp = struct.pack("!HHHH", 5353, 7, 12, 0) + b"ping"
    write("ipv6", "udp", ipv6(a, b, 17, udp, flow=0x3AD4B))
    # Hop-by-hop with a Router Alert, then destination options with an unknown option that
    # says "skip" (00xxxxxx) and PadN, then UDP.
    hbh = bytes([60, 0, 5, 2, 0, 0, 1, 0])
    dst = bytes([17, 0, 0x1E, 2, 0xAB, 0xCD, 1, 0])
    write("ipv6", "hbh-dst", ipv6(a, b, 0, hbh + dst + udp))
    # An unknown option that asks for a Parameter Problem (10xxxxxx).
    write("ipv6", "option-problem", ipv6(a, b, 60, bytes([17, 0, 0x9E, 2, 0, 0, 1, 0]) + udp))
    # Routing headers with no segments left (ignored) and with one (refused).
    routing = lambda left: bytes([17, 2, 4, left]) + bytes(20)
    write("ipv6", "routing-done", ipv6(a, b, 43, routing(0) + udp))
    write("ipv6", "routing-left", ipv6(a, b, 43, routing(1) + udp))
    # Fragments: a first one, a later one, an atomic one (RFC 6946).
    frag = lambda offset, more: struct.pack("!BBHI", 17, 0, offset | more, 0xC0FFEE)
    write("ipv6", "frag-first", ipv6(a, b, 44, frag(0, 1) + udp))
    write("ipv6", "frag-later", ipv6(a, b, 44, frag(1448, 0) + b"tail of a datagram"))
    write("ipv6", "frag-atomic", ipv6(a, b, 44, frag(0, 0) + udp))
    # No next header: whatever follows is ignored.
    write("ipv6", "no-next-header", ipv6(a, b, 59, b"ignored"))
    # ICMPv6 between the addresses the fuzz body uses (fe80::1 to ff02::1:ff00:2); the
    # body does not verify checksums, so they are left zero.
    target = bytes.fromhex("fe800000000000000000000000000002")
    mac = bytes.fromhex("02000000000a")
    write("icmpv6", "echo", struct.pack("!BBHHH", 128, 0, 0, 0x1234, 1) + b"ping")
    write("icmpv6", "ns", struct.pack("!BBHI", 135, 0, 0, 0) + target + bytes([1, 1]) + mac)
    write("icmpv6", "na", struct.pack("!BBHI", 136, 0, 0, 0x60000000) + target + bytes([2, 1]) + mac)
    prefix = struct.pack("!BBBBII", 3, 4, 64, 0xC0, 86400, 14400) + bytes(4) + bytes.fromhex("20010db8000000000000000000000000")
    write("icmpv6", "ra", struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0) + bytes([1, 1]) + mac + struct.pack("!BBHI", 5, 1, 0, 1500) + prefix)
    group = bytes.fromhex("ff0200000000000000000001ff000002")
    write("icmpv6", "mldv2", struct.pack("!BBHHH", 143, 0, 0, 0, 1) + struct.pack("!BBH", 4, 0, 0) + group)
    write("icmpv6", "param-problem", struct.pack("!BBHI", 4, 1, 0, 40) + ipv6(a, b, 60, bytes([17, 0, 0x9E, 2, 0, 0, 1, 0]) + udp))


def split(name: str, frame: bytes) -> None:
    write("ethernet", name, frame)
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    body = frame[14:]
    if ethertype == 0x0806:
        write("arp", name, body)
    elif ethertype == 0x0800:
        write("ipv4", name, body)
        ihl = (body[0] & 15) * 4
        proto, payload = body[9], body[ihl:]
        target = {1: "icmpv4", 6: "tcp", 17: "udp"}.get(proto)
        if target:
            write(target, name, payload)


def main() -> None:
    for i, frame in enumerate(frames(sys.argv[1])):
        split(f"demo-{i:02}", frame)
    ipv6_seeds()
    a, b = [192, 0, 2, 1], [198, 51, 100, 2]
    # TCP: ACK with timestamps and three SACK blocks; a segment with an unknown option kind.
    ts = bytes([1, 1, 8, 10]) + struct.pack("!II", 1000, 2000)
    sack = bytes([1, 1, 5, 26]) + struct.pack("!6I", 100, 200, 300, 400, 500, 600)
    opts = ts + sack
    write("tcp", "sack-ts", struct.pack("!HHIIBBHHH", 40000, 80, 1, 2, (5 + len(opts) // 4) << 4, 0x10, 512, 0, 0) + opts)
    odd = bytes([0x22, 4, 0xAB, 0xCD, 1, 0])
    write("tcp", "unknown-option", struct.pack("!HHIIBBHHH", 1, 2, 3, 4, (5 + len(odd) // 4 + 1) << 4, 0x18, 9, 0, 0) + odd + b"\0\0" + b"data")
    # IPv4 with a Router Alert option carrying UDP.
    udp = struct.pack("!HHHH", 5353, 7, 12, 0) + b"ping"
    write("ipv4", "options", ipv4(a, b, 17, udp, bytes([0x94, 4, 0, 0])))
    # ICMP port unreachable quoting that datagram, and a fragmentation-needed with an MTU.
    quoted = ipv4(a, b, 17, udp)
    unreach = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    write("icmpv4", "port-unreachable", unreach[:2] + struct.pack("!H", checksum(unreach)) + unreach[4:])
    fragneed = struct.pack("!BBHHH", 3, 4, 0, 0, 1400) + quoted
    write("icmpv4", "frag-needed", fragneed[:2] + struct.pack("!H", checksum(fragneed)) + fragneed[4:])
    # An 802.1Q-tagged IPv4 frame.
    write("ethernet", "vlan", bytes.fromhex("ffffffffffff020000000001") + struct.pack("!HH H", 0x8100, 0x2064, 0x0800) + quoted)


if __name__ == "__main__":
    main()
