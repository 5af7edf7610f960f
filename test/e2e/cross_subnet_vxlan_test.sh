#!/usr/bin/env bash
# Issues 9 and 16 — dual-stack nodes on two subnets (IPv4 and IPv6) joined by a router,
# --cross-subnet=vxlan (the default): every pod reaches every pod over IPv4 and IPv6;
# same-subnet pairs keep direct routes of both families and send nothing through
# hostgw.vxlan; other-subnet pairs go via the peer's VTEP address of the family onlink on
# hostgw.vxlan (VNI/port/MTU as configured), IPv6 riding the IPv4 underlay. The device
# deleted by hand comes back, entries deleted by hand come back, a restart adopts
# everything, and a node removed from the API leaves no route or entry of either family
# behind on any peer; the last overlay peer gone takes the device with it.
source "$(dirname "$0")/lib.sh"
khg_init cross-subnet-vxlan

KHG_CLUSTER_CIDRS="$KHG_CLUSTER_CIDR,$KHG_CLUSTER_CIDR6"

readonly VNI=4244 PORT=4789 DEV=hostgw.vxlan

# The VTEP MAC of a node address (routing/overlay_table.cpp: 0e:68 + the IPv4 bytes).
vtep_mac() {
  local IFS=.
  # shellcheck disable=SC2046
  printf '0e:68:%02x:%02x:%02x:%02x\n' $1
}
same_side() { [[ "${KHG_NODE_SIDE[$1]}" == "${KHG_NODE_SIDE[$2]}" ]]; }
# The IPv6 VTEP address of node K: the first address of its IPv6 podCIDR.
vtep6() { echo "2001:db8:244:$1::"; }

# On every node of the set: exactly one owned route per other node of the set, direct
# (via its address on eth0) for a same-subnet peer, via its VTEP address 10.244.K.0
# onlink on hostgw.vxlan for a peer on the other subnet; nothing else owned.
mesh_ok() {
  local nodes=("$@") i k want have
  for i in "${nodes[@]}"; do
    want=$(for k in "${nodes[@]}"; do
      [[ "$k" == "$i" ]] && continue
      if same_side "$i" "$k"; then
        echo "$(khg_node_pod_cidr "$k") $(khg_node_ip "$k") eth0 -"
      else
        echo "$(khg_node_pod_cidr "$k") 10.244.$k.0 $DEV onlink"
      fi
    done | sort)
    have=$(khg_routes "$i" | jq -r '.[] | "\(.dst) \(.gateway) \(.dev) \(if any(.flags[]?; . == "onlink") then "onlink" else "-" end)"' | sort)
    [[ "$want" == "$have" ]] || return 1
  done
}

# The same for IPv6: direct via the peer's IPv6 address on eth0 on the same subnet (no
# dev hostgw.vxlan), via its IPv6 VTEP address onlink on hostgw.vxlan otherwise.
mesh6_ok() {
  local nodes=("$@") i k want have
  for i in "${nodes[@]}"; do
    want=$(for k in "${nodes[@]}"; do
      [[ "$k" == "$i" ]] && continue
      if same_side "$i" "$k"; then
        echo "$(khg_node_pod_cidr6 "$k") $(khg_node_ip6 "$k") eth0 -"
      else
        echo "$(khg_node_pod_cidr6 "$k") $(vtep6 "$k") $DEV onlink"
      fi
    done | sort)
    have=$(khg_routes6 "$i" | jq -r '.[] | "\(.dst) \(.gateway) \(.dev) \(if any(.flags[]?; . == "onlink") then "onlink" else "-" end)"' | sort)
    [[ "$want" == "$have" ]] || return 1
  done
}

# Node I holds the neighbour entries (IPv4 and IPv6 VTEP address, both to the MAC of
# K's IPv4 address) and the one FDB entry of peer K on hostgw.vxlan.
has_entries() {
  local ns mac
  ns=$(khg_node_ns "$1")
  mac=$(vtep_mac "$(khg_node_ip "$2")")
  ip -n "$ns" -j neigh show dev "$DEV" | jq -e --arg ip "10.244.$2.0" --arg ip6 "$(vtep6 "$2")" --arg mac "$mac" \
    '. as $n | all($ip, $ip6; . as $a | any($n[]; .dst == $a and .lladdr == $mac and any(.state[]; . == "PERMANENT")))' >/dev/null &&
    bridge -n "$ns" -j fdb show dev "$DEV" | jq -e --arg mac "$mac" --arg dst "$(khg_node_ip "$2")" \
      'any(.[]; .mac == $mac and .dst == $dst)' >/dev/null
}
no_entries() {
  local ns mac
  ns=$(khg_node_ns "$1")
  mac=$(vtep_mac "$(khg_node_ip "$2")")
  ip -n "$ns" link show "$DEV" >/dev/null 2>&1 || return 0
  ! ip -n "$ns" -j neigh show dev "$DEV" | jq -e --arg ip "10.244.$2.0" --arg ip6 "$(vtep6 "$2")" \
    'any(.[]?; .dst == $ip or .dst == $ip6)' >/dev/null &&
    ! bridge -n "$ns" -j fdb show dev "$DEV" | jq -e --arg mac "$mac" 'any(.[]; .mac == $mac)' >/dev/null
}
permanent_neighbours() {
  ip -n "$(khg_node_ns "$1")" -j neigh show dev "$DEV" | jq '[.[]? | select(any(.state[]; . == "PERMANENT"))] | length'
}
tx_packets() { ip -n "$(khg_node_ns "$1")" -s -j link show "$DEV" | jq '.[0].stats64.tx.packets'; }
dev_index() { ip -n "$(khg_node_ns "$1")" -j link show "$DEV" 2>/dev/null | jq -e '.[0].ifindex'; }
has_device() { ip -n "$(khg_node_ns "$1")" link show "$DEV" >/dev/null 2>&1; }
no_device() { ! has_device "$1"; }

khg_step "cluster: node1, node2 on 198.51.100.0/24 + 2001:db8:100::/64; node3, node4 on 203.0.113.0/24 + 2001:db8:113::/64 behind a router; dual stack, 2 pods each"
khg_lan_up
khg_router_up
khg_router_up_v6
khg_api_up
for i in 1 2 3 4; do
  side=near
  ((i > 2)) && side=far
  khg_node_add "$i" "$side"
  khg_node_add_v6 "$i"
  khg_pods_add "$i" 2
  khg_pods_add_v6 "$i"
  khg_api_create_node "$i" "$(khg_node_pod_cidr "$i"),$(khg_node_pod_cidr6 "$i")" "$(khg_node_ip "$i"),$(khg_node_ip6 "$i")"
done
khg_ping "$(khg_node_ns 1)" "$(khg_node_ip 3)" 1 || khg_fail "node1 cannot reach node3 through the router: broken set-up"
khg_ping6 "$(khg_node_ns 1)" "$(khg_node_ip6 3)" 2 || khg_fail "node1 cannot reach node3 over IPv6 through the router: broken set-up"
if khg_ping "$(khg_pod_ns 1 1)" "$(khg_pod_ip 3 1)" 1 || khg_ping6 "$(khg_pod_ns 1 1)" "$(khg_pod_ip6 3 1)" 1; then
  khg_fail "node1's pod reached node3's pod before kube-hostgw: the test network is wrong"
fi

khg_step "starting kube-hostgw (default --cross-subnet=vxlan, --vxlan-vni $VNI, --vxlan-port $PORT)"
started=$(khg_now_ms)
khg_hostgw_start_all
if ! khg_wait_for 30 "every pod to ping every pod" khg_all_pods_ping; then
  khg_all_pods_ping || true
  khg_fail "pods cannot reach each other across the subnets"
fi
elapsed=$(($(khg_now_ms) - started))
khg_info "all $(khg_pod_pairs) cross-node pod pairs answer (4 same-subnet node pairs, 8 other-subnet), $elapsed ms after the start"
khg_figure cross_subnet_time_to_all_pings_ms "$elapsed" ms
if ! khg_wait_for 15 "every pod to ping -6 every pod" khg_all_pods_ping6; then
  khg_all_pods_ping6 || true
  khg_fail "pods cannot reach each other over IPv6 across the subnets"
fi
khg_info "and over IPv6 (ping -6), both ways between the subnets"
khg_wait_for 20 "every node ready" khg_all_ready || khg_fail "a node is not ready"

khg_step "routes of both families: direct to the same subnet, via the VTEP onlink on $DEV to the other one"
mesh_ok 1 2 3 4 || khg_fail "routes are not as expected; node1: $(khg_routes 1 | jq -c 'map({dst, gateway, dev, flags})')"
mesh6_ok 1 2 3 4 || khg_fail "IPv6 routes are not as expected; node1: $(khg_routes6 1 | jq -c 'map({dst, gateway, dev, flags})')"
khg_info "node1: $(ip -n "$(khg_node_ns 1)" route show proto 44 | tr '\n' ';')"
khg_info "node1: $(ip -n "$(khg_node_ns 1)" -6 route show proto 44 type unicast | tr '\n' ';')"
for i in 1 2 3 4; do
  for k in 1 2 3 4; do
    [[ "$i" == "$k" ]] || same_side "$i" "$k" || has_entries "$i" "$k" ||
      khg_fail "node$i lacks the neighbour/FDB entry of node$k: $(ip -n "$(khg_node_ns "$i")" neigh show dev "$DEV"); $(bridge -n "$(khg_node_ns "$i")" fdb show dev "$DEV")"
  done
  [[ "$(permanent_neighbours "$i")" == 4 ]] ||
    khg_fail "node$i: expected exactly 4 permanent neighbour entries (2 peers x 2 families) on $DEV: $(ip -n "$(khg_node_ns "$i")" neigh show dev "$DEV")"
  [[ "$(bridge -n "$(khg_node_ns "$i")" -j fdb show dev "$DEV" | jq '[.[] | select(.dst)] | length')" == 2 ]] ||
    khg_fail "node$i: expected exactly 2 FDB entries (one per peer, both families) on $DEV: $(bridge -n "$(khg_node_ns "$i")" fdb show dev "$DEV")"
done

khg_step "the device: VNI, port, local address, underlay, MTU = link MTU - 50, learning off, VTEP /32"
for i in 1 3; do
  ns=$(khg_node_ns "$i")
  link=$(ip -n "$ns" -d -j link show "$DEV")
  eth_mtu=$(ip -n "$ns" -j link show eth0 | jq '.[0].mtu')
  jq -e --argjson vni "$VNI" --argjson port "$PORT" --arg local "$(khg_node_ip "$i")" --argjson mtu "$((eth_mtu - 50))" \
    --arg mac "$(vtep_mac "$(khg_node_ip "$i")")" '.[0] |
    .linkinfo.info_kind == "vxlan" and .linkinfo.info_data.id == $vni and .linkinfo.info_data.port == $port and
    .linkinfo.info_data.local == $local and .linkinfo.info_data.link == "eth0" and
    (.linkinfo.info_data.learning | not) and .mtu == $mtu and .address == $mac and
    any(.flags[]; . == "UP")' <<<"$link" >/dev/null ||
    khg_fail "node$i: $DEV is not as configured: $(jq -c '.[0] | {mtu, address, flags, linkinfo}' <<<"$link")"
  ip -n "$ns" -j addr show dev "$DEV" | jq -e --arg a "10.244.$i.0" 'any(.[0].addr_info[]; .local == $a and .prefixlen == 32)' >/dev/null ||
    khg_fail "node$i: $DEV does not hold 10.244.$i.0/32"
  ip -n "$ns" -j addr show dev "$DEV" | jq -e --arg a "$(vtep6 "$i")" \
    'any(.[0].addr_info[]; .local == $a and .prefixlen == 128 and (.tentative | not))' >/dev/null ||
    khg_fail "node$i: $DEV does not hold $(vtep6 "$i")/128 (usable): $(ip -n "$ns" addr show dev "$DEV")"
done
khg_info "node1 $DEV: $(ip -n "$(khg_node_ns 1)" -d -j link show "$DEV" | jq -c '.[0] | {mtu, address, vni: .linkinfo.info_data.id, port: .linkinfo.info_data.port, local: .linkinfo.info_data.local, dev: .linkinfo.info_data.link}')"

khg_step "same-subnet pairs send nothing through $DEV; other-subnet pairs do"
before1=$(tx_packets 1) before3=$(tx_packets 3)
for round in 1 2 3; do
  khg_all_pods_ping 1 2 || khg_fail "node1/node2 pods cannot ping (round $round)"
  khg_all_pods_ping 3 4 || khg_fail "node3/node4 pods cannot ping (round $round)"
  khg_all_pods_ping6 1 2 || khg_fail "node1/node2 pods cannot ping -6 (round $round)"
  khg_all_pods_ping6 3 4 || khg_fail "node3/node4 pods cannot ping -6 (round $round)"
done
after1=$(tx_packets 1) after3=$(tx_packets 3)
[[ "$after1" == "$before1" && "$after3" == "$before3" ]] ||
  khg_fail "$DEV's tx counter moved during same-subnet pings (IPv4 and IPv6): node1 $before1 -> $after1, node3 $before3 -> $after3"
khg_all_pods_ping 1 3 || khg_fail "node1/node3 pods cannot ping"
(($(tx_packets 1) >= after1 + 4)) || khg_fail "node1's $DEV sent fewer than 4 packets for 4 echo requests to node3's pods"
mid1=$(tx_packets 1)
khg_all_pods_ping6 1 3 || khg_fail "node1/node3 pods cannot ping -6"
(($(tx_packets 1) >= mid1 + 4)) || khg_fail "node1's $DEV sent fewer than 4 packets for 4 IPv6 echo requests to node3's pods"
khg_info "$DEV tx packets on node1: $before1 -> $after1 over 3 rounds of same-subnet pings (both families), $mid1 after IPv4 pings to node3, $(tx_packets 1) after IPv6 ones"

khg_step "$DEV deleted by hand on node1: recreated, pings work again"
old_index=$(dev_index 1)
deleted_at=$(khg_now_ms)
ip -n "$(khg_node_ns 1)" link del "$DEV"
khg_wait_for 10 "node1's $DEV to come back" has_device 1 || khg_fail "node1's $DEV was not recreated"
khg_wait_for 10 "node1's routes and entries to come back" mesh_ok 1 2 3 4 || khg_fail "node1's overlay routes did not come back: $(khg_routes 1 | jq -c .)"
khg_wait_for 10 "node1's IPv6 routes to come back" mesh6_ok 1 2 3 4 || khg_fail "node1's IPv6 overlay routes did not come back: $(khg_routes6 1 | jq -c .)"
khg_wait_for 10 "node1's pods to reach node3/node4's pods again" khg_all_pods_ping 1 3 4 || khg_fail "pings fail after the device came back"
khg_wait_for 10 "node1's pods to reach node3/node4's pods over IPv6 again" khg_all_pods_ping6 1 3 4 || khg_fail "IPv6 pings fail after the device came back"
khg_info "device, routes, entries and pings back $(($(khg_now_ms) - deleted_at)) ms after the deletion (ifindex $old_index -> $(dev_index 1))"
[[ "$(dev_index 1)" != "$old_index" ]] || khg_fail "the device has its old index: was it deleted at all?"
grep -q '"VXLAN device created"' "$KHG_RUN_DIR/node1.log" || khg_fail "node1's log does not say the device was created"

khg_step "entries deleted by hand (IPv4 and IPv6 neighbours, FDB) come back"
ip -n "$(khg_node_ns 2)" neigh del 10.244.3.0 dev "$DEV"
ip -n "$(khg_node_ns 2)" neigh del "$(vtep6 4)" dev "$DEV"
bridge -n "$(khg_node_ns 2)" fdb del "$(vtep_mac "$(khg_node_ip 4)")" dev "$DEV" dst "$(khg_node_ip 4)"
khg_wait_for 10 "node2's entries for node3 and node4 to come back" bash -c "$(declare -f has_entries vtep_mac vtep6 khg_node_ns khg_node_ip); $(declare -p KHG_NODE_SIDE KHG_PREFIX KHG_LAN_SUBNET KHG_FAR_SUBNET DEV); has_entries 2 3 && has_entries 2 4" ||
  khg_fail "node2's entries were not restored"
khg_all_pods_ping 2 3 4 || khg_fail "node2's pods cannot reach node3/node4's pods after the repair"
khg_all_pods_ping6 2 3 4 || khg_fail "node2's pods cannot reach node3/node4's pods over IPv6 after the repair"

khg_step "kube-hostgw on node3 restarted: it adopts the device, its entries and the overlay routes"
index3=$(dev_index 3)
khg_hostgw_stop 3 || khg_fail "node3's kube-hostgw did not exit cleanly on SIGTERM"
has_device 3 && mesh_ok 1 2 3 4 && mesh6_ok 1 2 3 4 || khg_fail "the stop changed node3's device or routes"
lines_before=$(wc -l <"$KHG_RUN_DIR/node3.log")
khg_hostgw_start 3
khg_wait_for 20 "node3 ready again" khg_ready 3 || khg_fail "node3 is not ready after the restart"
restart_log=$(tail -n +"$((lines_before + 1))" "$KHG_RUN_DIR/node3.log")
grep -q '"First sync complete".*changes="0"' <<<"$restart_log" || khg_fail "node3's first pass after the restart changed routes: $(grep '"First sync' <<<"$restart_log")"
grep -qE '"VXLAN device (created|fixed)"|"Overlay entry (added|replaced|deleted)"' <<<"$restart_log" &&
  khg_fail "node3 rebuilt what it should have adopted: $(grep -E 'VXLAN device|Overlay entry' <<<"$restart_log" | head -n 3)"
[[ "$(dev_index 3)" == "$index3" ]] || khg_fail "node3's device was recreated by the restart"
khg_all_pods_ping 3 1 2 || khg_fail "node3's pods cannot reach node1/node2's pods after the restart"
khg_all_pods_ping6 3 1 2 || khg_fail "node3's pods cannot reach node1/node2's pods over IPv6 after the restart"

khg_step "node4 removed from the API: its overlay routes and entries of both families are gone on every peer"
khg_api_delete_node node4
khg_wait_for 15 "the 3 remaining nodes to route exactly each other" mesh_ok 1 2 3 || khg_fail "routes did not follow node4's removal: $(khg_routes 1 | jq -c .)"
khg_wait_for 5 "the IPv6 routes too" mesh6_ok 1 2 3 || khg_fail "IPv6 routes did not follow node4's removal: $(khg_routes6 1 | jq -c .)"
for i in 1 2 3; do
  khg_route_absent "$i" "$(khg_node_pod_cidr 4)" || khg_fail "node$i still routes node4's podCIDR"
  khg_route_absent "$i" "$(khg_node_pod_cidr6 4)" || khg_fail "node$i still routes node4's IPv6 podCIDR"
  no_entries "$i" 4 || khg_fail "node$i still holds node4's neighbour/FDB entries"
done
has_device 3 || khg_fail "node3 lost its device although node1 and node2 are still overlay peers"
khg_all_pods_ping 1 2 3 || khg_fail "pods of the remaining nodes cannot reach each other"
khg_all_pods_ping6 1 2 3 || khg_fail "pods of the remaining nodes cannot reach each other over IPv6"

khg_step "node3 removed too: node1 and node2 have no overlay peer left, their device goes"
khg_api_delete_node node3
khg_wait_for 15 "node1 and node2 to route only each other" mesh_ok 1 2 || khg_fail "routes did not follow node3's removal"
khg_wait_for 5 "node1 and node2 to route only each other over IPv6" mesh6_ok 1 2 || khg_fail "IPv6 routes did not follow node3's removal"
khg_wait_for 10 "node1's device to be deleted" no_device 1 || khg_fail "node1 kept $DEV without an overlay peer"
khg_wait_for 10 "node2's device to be deleted" no_device 2 || khg_fail "node2 kept $DEV without an overlay peer"
grep -q '"VXLAN device deleted"' "$KHG_RUN_DIR/node1.log" || khg_fail "node1's log does not say the device was deleted"
khg_all_pods_ping 1 2 || khg_fail "node1/node2 pods cannot ping after the device went"
khg_all_pods_ping6 1 2 || khg_fail "node1/node2 pods cannot ping -6 after the device went"

khg_pass
