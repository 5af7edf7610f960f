#!/usr/bin/env python3
"""Writes the netlink_overlay seed corpus: kernel-like replies for the VXLAN
overlay (a vxlan link with IFLA_LINKINFO, neighbour and FDB dumps, neighbour
events) and a few damaged ones. Run once; the output is checked in under
corpus/netlink_overlay/ (next to kernel-* files captured from a real kernel
in a test namespace)."""
import os
import socket
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "netlink_overlay")

NLMSG_DONE = 3
RTM_NEWLINK, RTM_NEWNEIGH, RTM_DELNEIGH = 16, 28, 29
NLM_F_MULTI = 2
AF_INET, AF_BRIDGE, AF_INET6 = 2, 7, 10
NUD_PERMANENT, NUD_REACHABLE, NTF_SELF = 0x80, 0x02, 0x02
NLA_F_NESTED = 0x8000


def align(n):
    return (n + 3) & ~3


def attr(kind, payload):
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (align(len(data)) - len(data))


def message(kind, body, seq=7, flags=NLM_F_MULTI, pid=0):
    body = body + b"\0" * (align(len(body)) - len(body))
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, pid) + body


def mac(text):
    return bytes(int(part, 16) for part in text.split(":"))


def vxlan_link(index, name, vni, port, local, link, mtu=1450, address="0e:68:c6:33:64:01", learning=0):
    body = struct.pack("=BBHiII", 0, 0, 1, index, 0x1043, 0)
    body += attr(3, name.encode() + b"\0")  # IFLA_IFNAME
    body += attr(4, struct.pack("=I", mtu))  # IFLA_MTU
    body += attr(1, mac(address))  # IFLA_ADDRESS
    data = attr(1, struct.pack("=I", vni))  # IFLA_VXLAN_ID
    data += attr(4, socket.inet_aton(local))  # IFLA_VXLAN_LOCAL
    data += attr(3, struct.pack("=I", link))  # IFLA_VXLAN_LINK
    data += attr(15, struct.pack("!H", port))  # IFLA_VXLAN_PORT
    data += attr(7, struct.pack("=B", learning))  # IFLA_VXLAN_LEARNING
    info = attr(1, b"vxlan\0") + attr(2 | NLA_F_NESTED, data)  # IFLA_INFO_KIND, IFLA_INFO_DATA
    body += attr(18 | NLA_F_NESTED, info)  # IFLA_LINKINFO
    return message(RTM_NEWLINK, body)


def neighbour(kind, family, index, dst=None, lladdr=None, state=NUD_PERMANENT, flags=0):
    body = struct.pack("=BBHiHBB", family, 0, 0, index, state, flags, 0)
    if dst:
        packed = socket.inet_pton(socket.AF_INET6 if ":" in dst else socket.AF_INET, dst)
        body += attr(1, packed)  # NDA_DST
    if lladdr:
        body += attr(2, mac(lladdr))  # NDA_LLADDR
    return message(kind, body)


def done():
    return message(NLMSG_DONE, struct.pack("=i", 0))


SEEDS = {
    "vxlan-link": vxlan_link(9, "hostgw.vxlan", 4244, 4789, "198.51.100.11", 2),
    "neighbour-dump": neighbour(RTM_NEWNEIGH, AF_INET, 9, "10.244.9.0", "0e:68:cb:00:71:09")
    + neighbour(RTM_NEWNEIGH, AF_INET, 9, "10.244.3.0", "0e:68:cb:00:71:03")
    + neighbour(RTM_NEWNEIGH, AF_INET, 9, "10.244.8.0", "0e:68:00:00:00:08", state=NUD_REACHABLE)
    + done(),
    "fdb-dump": neighbour(RTM_NEWNEIGH, AF_BRIDGE, 9, "203.0.113.9", "0e:68:cb:00:71:09", flags=NTF_SELF)
    + neighbour(RTM_NEWNEIGH, AF_BRIDGE, 9, None, "33:33:00:00:00:01", flags=NTF_SELF)
    + done(),
    "delneigh-event": neighbour(RTM_DELNEIGH, AF_INET, 9, "10.244.9.0", "0e:68:cb:00:71:09", state=0x20)
    + neighbour(RTM_DELNEIGH, AF_BRIDGE, 9, "203.0.113.9", "0e:68:cb:00:71:09", flags=NTF_SELF),
    "neighbour-odd-dst": message(RTM_NEWNEIGH, struct.pack("=BBHiHBB", AF_INET, 0, 0, 9, NUD_PERMANENT, 0, 0) + attr(1, b"\x0a\xf4\x09")),
    "neighbour-v6-dump": neighbour(RTM_NEWNEIGH, AF_INET6, 9, "2001:db8:9::", "0e:68:cb:00:71:09") + done(),
    # Family and address length disagree (the parser refuses both).
    "neighbour-family-mismatch": neighbour(RTM_NEWNEIGH, AF_INET, 9, "2001:db8:9::", "0e:68:cb:00:71:09")
    + neighbour(RTM_NEWNEIGH, AF_INET6, 9, "10.244.9.0", "0e:68:cb:00:71:09"),
    "neighbour-short": message(RTM_NEWNEIGH, b"\x02\0\0\0"),
    # The header's length is kept: the datagram is shorter than it says.
    "vxlan-link-truncated": vxlan_link(9, "hostgw.vxlan", 4244, 4789, "198.51.100.11", 2)[:60],
}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as out:
            out.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")
