#!/usr/bin/env python3
"""Writes the netlink_dump seed corpus: kernel-like rtnetlink replies (route,
link and address dumps, ACKs, DONE) and a few damaged ones. Run once; the
output is checked in under corpus/netlink_dump/."""
import os
import socket
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "netlink_dump")

NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_DELROUTE = 16, 20, 24, 25
NLM_F_MULTI = 2


def align(n):
    return (n + 3) & ~3


def attr(kind, payload):
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (align(len(data)) - len(data))


def message(kind, body, seq=7, flags=NLM_F_MULTI, pid=0):
    body = body + b"\0" * (align(len(body)) - len(body))
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, pid) + body


def route(family, dst, dst_len, gateway=None, oif=None, table=254, protocol=44, metric=None, kind=RTM_NEWROUTE,
          rtm_type=1, flags=0):
    body = struct.pack("=BBBBBBBBI", family, dst_len, 0, 0, table if table < 256 else 0, protocol, 0, rtm_type, flags)
    af = socket.AF_INET if family == 2 else socket.AF_INET6
    if dst_len:
        body += attr(1, socket.inet_pton(af, dst))  # RTA_DST
    if gateway:
        body += attr(5, socket.inet_pton(af, gateway))  # RTA_GATEWAY
    if oif is not None:
        body += attr(4, struct.pack("=I", oif))  # RTA_OIF
    if metric is not None:
        body += attr(6, struct.pack("=I", metric))  # RTA_PRIORITY
    body += attr(15, struct.pack("=I", table))  # RTA_TABLE
    return message(kind, body)


def link(index, name, flags=0x1043, mtu=1500):
    body = struct.pack("=BBHiII", 0, 0, 1, index, flags, 0xffffffff)
    body += attr(3, name.encode() + b"\0")  # IFLA_IFNAME
    body += attr(4, struct.pack("=I", mtu))  # IFLA_MTU
    return message(RTM_NEWLINK, body)


def address(index, family, local, prefix_len, scope=0):
    af = socket.AF_INET if family == 2 else socket.AF_INET6
    body = struct.pack("=BBBBI", family, prefix_len, 0x80, scope, index)
    body += attr(2, socket.inet_pton(af, local))  # IFA_LOCAL
    body += attr(1, socket.inet_pton(af, local))  # IFA_ADDRESS
    return message(RTM_NEWADDR, body)


def ack(error, seq=7, text=None):
    inner = struct.pack("=IHHII", 16, RTM_NEWROUTE, 5, seq, 0)
    body = struct.pack("=i", -error) + inner
    flags = 0
    if text:
        flags = 0x200  # NLM_F_ACK_TLVS
        body += attr(1, text.encode() + b"\0")  # NLMSGERR_ATTR_MSG
    return message(NLMSG_ERROR, body, flags=flags)


def done():
    return message(NLMSG_DONE, struct.pack("=i", 0))


SEEDS = {
    "route-dump-v4": route(2, "10.244.2.0", 24, "198.51.100.12", 2) + route(2, "10.244.3.0", 24, "203.0.113.7", 3, metric=5) + done(),
    "route-dump-v6": route(10, "2001:db8:2::", 64, "2001:db8:ffff::12", 2, metric=1024) + done(),
    "route-onlink-table": route(2, "10.244.4.0", 24, "198.51.100.14", 4, table=1000, flags=4),
    "route-default-local": route(2, "0.0.0.0", 0, None, 1, rtm_type=2) + route(2, "10.244.5.0", 24, kind=RTM_DELROUTE, oif=9),
    "link-dump": link(1, "lo", 0x49, 65536) + link(2, "eth0") + done(),
    "address-dump": address(2, 2, "198.51.100.11", 24) + address(2, 10, "fe80::1", 64, 253) + done(),
    "acks": ack(0) + ack(17, 8, "File exists") + ack(101, 9),
    "truncated": route(2, "10.244.2.0", 24, "198.51.100.12", 2)[:30],
    "bad-length": struct.pack("=IHHII", 4000, RTM_NEWROUTE, 0, 1, 0) + b"\0" * 12,
    "mixed-family-gateway": route(2, "10.244.6.0", 24, None, 2) [:-8] + attr(5, socket.inet_pton(socket.AF_INET6, "2001:db8::1")),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"wrote {len(SEEDS)} seeds to {OUT}")
