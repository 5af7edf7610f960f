#!/usr/bin/env bash
# Issue 14 — a complete pod network by kube-hostgw alone: started with --cni-conf-dir and
# --masquerade, it writes each node's conflist, its own-podCIDR unreachable routes, the
# routes between nodes and the nftables table inet kube-hostgw. Pods are made by running
# the plugins of the conflist kube-hostgw wrote (Debian's real bridge, host-local,
# portmap), as a container runtime would. An "outside" host sits behind a router that has
# no route to the pod network. Shows, over IPv4 and IPv6 (dual stack):
#   - pods ping across nodes; a pod on another node sees the sender pod's own address;
#   - a pod reaches the outside host, which sees the node's address;
#   - pod -> another node's address keeps the pod's address;
#   - a node added later is exempt at once (an element of node-addresses-v4, same table),
#     and a node deleted leaves the set the same way;
#   - a restart changes neither the ruleset nor the conflist (same handles, inode, mtime);
#   - a rule added to our table by hand is put back (nftables event), a deleted conflist
#     at the resync;
#   - a foreign nftables table is never touched; a restart without --masquerade removes ours.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cni_lib.sh"
khg_init pod-network
khg_cni_require

KHG_CLUSTER_CIDRS="$KHG_CLUSTER_CIDR,$KHG_CLUSTER_CIDR6"
KHG_RESYNC=3s

conf_dir() { echo "$KHG_RUN_DIR/nodes/n$1/net.d"; }
conflist() { echo "$(conf_dir "$1")/10-kube-hostgw.conflist"; }
# kube-hostgw for the pod network on node I (extra flags after I).
podnet_start() {
  local i=$1
  shift
  khg_hostgw_start "$i" --cni-conf-dir "$(conf_dir "$i")" --cni-ipam-data-dir "$KHG_RUN_DIR/nodes/n$i/ipam" "$@"
}
nft_in() { ip netns exec "$(khg_node_ns "$1")" nft "${@:2}"; }
table_of() { nft_in "$1" -a list table inet kube-hostgw; }
file_id() { stat -c '%i %y' "$1"; }

khg_step "network (dual stack): LAN, router, outside host $KHG_OUTSIDE_IP / $KHG_OUTSIDE_IP6; 2 nodes without bridges; API server"
khg_lan_up
khg_router_up
khg_outside_up
khg_outside_up_v6
khg_api_up
for i in 1 2; do
  khg_podnet_node_add "$i"
  khg_podnet_node_add_v6 "$i"
  khg_api_create_node "$i" "$(khg_node_pod_cidr "$i"),$(khg_node_pod_cidr6 "$i")" "$(khg_node_ip "$i"),$(khg_node_ip6 "$i")"
  mkdir -p "$(conf_dir "$i")"
  echo '{"cniVersion":"0.4.0","name":"someone-else","plugins":[]}' >"$(conf_dir "$i")/99-other.conflist"
done
n1=$(khg_node_ns 1)
n2=$(khg_node_ns 2)
out=$(khg_outside_ns)

ip netns exec "$n1" nft -f - <<'NFT'
table ip foreign {
  chain post {
    type nat hook postrouting priority 50; policy accept;
    ip daddr 198.51.100.200 counter accept
  }
}
NFT
foreign_before=$(nft_in 1 list table ip foreign)
other_before=$(cat "$(conf_dir 1)/99-other.conflist")

khg_step "kube-hostgw --cni-conf-dir --masquerade on both nodes (node1 also --subnet-file)"
podnet_start 1 --masquerade --subnet-file "$KHG_RUN_DIR/nodes/n1/subnet.env"
podnet_start 2 --masquerade
khg_wait_for 30 "both nodes ready" khg_all_ready || khg_fail "kube-hostgw not ready"
for i in 1 2; do
  khg_wait_for 10 "node$i's conflist" test -s "$(conflist "$i")" || khg_fail "node$i: no conflist written"
done
jq -e '.plugins[0].ipam.ranges | length == 2' "$(conflist 1)" >/dev/null ||
  khg_fail "node1's conflist has not one range per podCIDR: $(cat "$(conflist 1)")"
jq -e '.plugins[0].mtu == 1450' "$(conflist 1)" >/dev/null ||
  khg_fail "node1's conflist MTU is not the link's 1500 minus the VXLAN overhead: $(jq .plugins[0].mtu "$(conflist 1)")"
grep -q '^FLANNEL_IPMASQ=true$' "$KHG_RUN_DIR/nodes/n1/subnet.env" ||
  khg_fail "subnet.env does not say FLANNEL_IPMASQ=true with --masquerade: $(cat "$KHG_RUN_DIR/nodes/n1/subnet.env")"
[[ "$(cat "$(conf_dir 1)/99-other.conflist")" == "$other_before" ]] || khg_fail "another conflist was touched"
[[ "$(khg_metric 1 kube_hostgw_ip_forwarding 'family="ipv4"')" == 1 ]] ||
  khg_fail "kube_hostgw_ip_forwarding{family=ipv4} is not 1: $(khg_metric 1 kube_hostgw_ip_forwarding 'family="ipv4"')"

khg_step "own podCIDRs: unreachable routes of ours (before any pod the podCIDR is refused)"
[[ "$(khg_own_unreachable 1 4)" == "10.244.1.0/24 4278198272" ]] ||
  khg_fail "node1's own unreachable IPv4 route: '$(khg_own_unreachable 1 4)'"
[[ "$(khg_own_unreachable 1 6)" == "$(khg_node_pod_cidr6 1) 4278198272" ]] ||
  khg_fail "node1's own unreachable IPv6 route: '$(khg_own_unreachable 1 6)'"
if refused=$(ip -n "$n1" route get 10.244.1.99 2>&1); then khg_fail "node1 routes its empty podCIDR: $refused"; fi

khg_step "pods created by the plugins of the conflists kube-hostgw wrote"
khg_cni_pod_add 1 1 "$(conflist 1)"
khg_cni_pod_add 1 2 "$(conflist 1)"
khg_cni_pod_add 2 1 "$(conflist 2)"
p11=$(khg_pod_ns 1 1)
p12=$(khg_pod_ns 1 2)
p21=$(khg_pod_ns 2 1)
ip11=$(khg_cni_pod_ip 1 1)
ip21=$(khg_cni_pod_ip 2 1)
ip611=$(khg_cni_pod_ip 1 1 6)
ip621=$(khg_cni_pod_ip 2 1 6)
khg_info "pods: $p11=$ip11,$ip611 $p21=$ip21,$ip621"
[[ "$ip11" == 10.244.1.* && "$ip21" == 10.244.2.* && "$ip611" == 2001:db8:244:1::* ]] ||
  khg_fail "pods did not get addresses from their node's podCIDRs: $ip11 $ip21 $ip611"
[[ "$(ip -n "$p11" -j link show eth0 | jq '.[0].mtu')" == 1450 ]] || khg_fail "pod eth0 MTU is not the conflist's 1450"

khg_step "pods ping across nodes (routes by kube-hostgw), the sender's own address seen"
khg_wait_for 10 "pod on node1 -> pod on node2" khg_ping "$p11" "$ip21" 1 || khg_fail "pod on node1 cannot ping pod on node2"
khg_wait_for 10 "IPv6 pod on node1 -> pod on node2" khg_ping6 "$p11" "$ip621" 1 || khg_fail "no IPv6 ping across nodes"
seen=$(khg_udp_source "$p11" "$p21" "$ip21")
[[ "$seen" == "$ip11" ]] || khg_fail "pod on node2 saw $seen, expected the sender pod's $ip11"
seen=$(khg_udp_source "$p11" "$p21" "$ip621")
[[ "$seen" == "$ip611" ]] || khg_fail "pod on node2 saw $seen over IPv6, expected the sender pod's $ip611"

khg_step "egress: the outside host sees the node's address"
seen=$(khg_udp_source "$p11" "$out" "$KHG_OUTSIDE_IP")
[[ "$seen" == "$(khg_node_ip 1)" ]] || khg_fail "outside host saw $seen, expected node1's $(khg_node_ip 1)"
seen=$(khg_udp_source "$p11" "$out" "$KHG_OUTSIDE_IP6")
[[ "$seen" == "$(khg_node_ip6 1)" ]] || khg_fail "outside host saw $seen over IPv6, expected node1's $(khg_node_ip6 1)"
khg_ping "$p21" "$KHG_OUTSIDE_IP" 2 || khg_fail "pod on node2 cannot ping the outside host"

khg_step "pod -> another node's address keeps the pod's address"
seen=$(khg_udp_source "$p11" "$n2" "$(khg_node_ip 2)")
[[ "$seen" == "$ip11" ]] || khg_fail "node2 saw $seen, expected the sender pod's $ip11"
seen=$(khg_udp_source "$p11" "$n2" "$(khg_node_ip6 2)")
[[ "$seen" == "$ip611" ]] || khg_fail "node2 saw $seen over IPv6, expected the sender pod's $ip611"

khg_step "a node added later is exempt at once: an element of node-addresses-v4, the same table"
khg_podnet_node_add 3
n3=$(khg_node_ns 3)
ip -n "$n3" route add 10.244.1.0/24 via "$(khg_node_ip 1)"
seen=$(khg_udp_source "$p11" "$n3" "$(khg_node_ip 3)")
[[ "$seen" == "$(khg_node_ip 1)" ]] || khg_fail "before node3 joined, it saw $seen, expected node1's address"
handle_before=$(table_of 1 | sed -n 1p)
khg_api_create_node 3
khg_wait_for 10 "node3's address in node1's set" \
  bash -c "ip netns exec $n1 nft list set inet kube-hostgw node-addresses-v4 | grep -q '$(khg_node_ip 3)'" ||
  khg_fail "node3's address not in node1's node-addresses-v4: $(nft_in 1 list set inet kube-hostgw node-addresses-v4)"
[[ "$(table_of 1 | sed -n 1p)" == "$handle_before" ]] || khg_fail "node3 joining re-created the table"
grep -qF '"Masquerade entry added" node="node3" masquerade="set node-addresses-v4 element 198.51.100.13"' \
  "$KHG_RUN_DIR/node1.log" ||
  khg_fail "node1 did not log node3's element: $(grep -i masquerade "$KHG_RUN_DIR/node1.log" | tail -n 3)"
seen=$(khg_udp_source "$p11" "$n3" "$(khg_node_ip 3)")
[[ "$seen" == "$ip11" ]] || khg_fail "after node3 joined, it saw $seen, expected the pod's $ip11"

khg_step "restart with the same flags changes neither the ruleset nor the conflist"
table_before=$(table_of 1)
file_before=$(file_id "$(conflist 1)")
khg_hostgw_stop 1 || khg_fail "kube-hostgw on node1 did not exit cleanly"
podnet_start 1 --masquerade --subnet-file "$KHG_RUN_DIR/nodes/n1/subnet.env"
khg_wait_for 20 "node1 ready again" khg_ready 1 || khg_fail "node1 not ready after the restart"
[[ "$(table_of 1)" == "$table_before" ]] || khg_fail "the restart changed our table: $(diff <(echo "$table_before") <(table_of 1))"
[[ "$(file_id "$(conflist 1)")" == "$file_before" ]] || khg_fail "the restart rewrote the conflist"

khg_step "our unreachable route deleted by hand comes back at once (kernel event)"
ip -n "$n1" route del unreachable 10.244.1.0/24 proto 44 metric 4278198272
khg_wait_for 5 "node1's unreachable route back" bash -c "[[ -n \"\$(ip -n $n1 route show proto 44 type unreachable)\" ]]" ||
  khg_fail "the deleted unreachable route did not come back"

khg_step "hand changes put back: a rule added to our table (nftables event), the conflist deleted (resync)"
rm "$(conflist 1)"
# (nft fails, and set -e ends the test, if the rule cannot be added; kube-hostgw may take it
# out again before the next command looks.)
nft_in 1 add rule inet kube-hostgw postrouting counter accept
khg_wait_for 10 "node1's conflist back" test -s "$(conflist 1)" || khg_fail "the deleted conflist did not come back"
khg_wait_for 10 "node1's table restored" bash -c "[[ \$(ip netns exec $n1 nft -j list chain inet kube-hostgw postrouting | jq '[.nftables[] | select(.rule)] | length') == 2 ]] && grep -q 'chain postrouting has 3 rules' $KHG_RUN_DIR/node1.log" ||
  khg_fail "the hand-changed table was not restored: $(table_of 1)"
grep -q '"Masquerade table changed by someone else"' "$KHG_RUN_DIR/node1.log" ||
  khg_fail "node1 did not notice the hand change through nftables events"
khg_ping "$p12" "$KHG_OUTSIDE_IP" 2 || khg_fail "egress broken after the table was restored"

khg_step "a node deleted: its address leaves node-addresses-v4 (one element, the same table)"
handle_before=$(table_of 1 | sed -n 1p)
khg_api_delete_node node3
khg_wait_for 10 "node3's address gone from node1's set" \
  bash -c "! ip netns exec $n1 nft list set inet kube-hostgw node-addresses-v4 | grep -q '$(khg_node_ip 3)'" ||
  khg_fail "node3's address still in node1's node-addresses-v4: $(nft_in 1 list set inet kube-hostgw node-addresses-v4)"
[[ "$(table_of 1 | sed -n 1p)" == "$handle_before" ]] || khg_fail "node3 leaving re-created the table"
nft_in 1 list set inet kube-hostgw node-addresses-v4 | grep -qF "$(khg_node_ip 2)" ||
  khg_fail "node2's address left the set with node3's: $(nft_in 1 list set inet kube-hostgw node-addresses-v4)"
grep -qF '"Masquerade entry deleted" node="node3" masquerade="set node-addresses-v4 element 198.51.100.13"' \
  "$KHG_RUN_DIR/node1.log" ||
  khg_fail "node1 did not log node3's element going: $(grep -i masquerade "$KHG_RUN_DIR/node1.log" | tail -n 3)"

khg_step "restart without --masquerade removes our table, and only ours"
khg_hostgw_stop 1 || khg_fail "kube-hostgw on node1 did not exit cleanly"
podnet_start 1
khg_wait_for 20 "node1 ready without masquerade" khg_ready 1 || khg_fail "node1 not ready"
khg_wait_for 10 "our table gone" bash -c "[[ \"\$(ip netns exec $n1 nft list tables)\" == 'table ip foreign' ]]" ||
  khg_fail "tables after restart without --masquerade: $(nft_in 1 list tables)"
[[ "$(nft_in 1 list table ip foreign)" == "$foreign_before" ]] || khg_fail "the foreign table changed"
if khg_ping "$p12" "$KHG_OUTSIDE_IP" 1; then khg_fail "a pod still reached the outside host with our table gone"; fi
khg_ping "$p11" "$ip21" 1 || khg_fail "pods on different nodes lost each other without masquerade"

khg_pass
