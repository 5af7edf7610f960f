#!/usr/bin/env bash
# Issue 14 — a complete pod network: pods made by Debian's real CNI plugins from the
# conflist kube-hostgw renders, egress masquerade from kube-hostgw's own nftables table,
# and an "outside" host behind a router that has no route to the pod network. Shows:
#   - the conflist works with bridge + host-local + portmap as a runtime runs them (ADD/DEL);
#   - without masquerade a pod cannot reach the outside host; with it, the outside host
#     sees the node's address;
#   - pod -> pod on another node and pod -> another node's address keep the pod's address
#     (UDP, the receiver prints the source);
#   - a node added later is exempt at once (one set element update), a re-apply changes
#     nothing, a foreign nftables table is never touched, masquerade off removes our table;
#   - the same over IPv6: the cluster is dual-stack (podCIDRs 10.244.I.0/24 and
#     2001:db8:244:I::/64, node addresses in both families).
# For now the routes between nodes are added by the test and the conflist and the table
# by khg-podnet-tool; once the reconcile engine lands, kube-hostgw itself writes both.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cni_lib.sh"
khg_init pod-network
khg_cni_require

tool() { ip netns exec "$1" "$KHG_PODNET_TOOL" "${@:2}"; }

khg_step "network (dual stack): LAN 198.51.100.0/24 + 2001:db8:100::/64, router, outside host $KHG_OUTSIDE_IP / $KHG_OUTSIDE_IP6; 2 nodes without bridges"
khg_lan_up
khg_router_up
khg_outside_up
khg_outside_up_v6
for i in 1 2; do
  khg_podnet_node_add "$i"
  khg_podnet_node_add_v6 "$i"
done
n1=$(khg_node_ns 1)
n2=$(khg_node_ns 2)
out=$(khg_outside_ns)

khg_step "conflists rendered for each node's podCIDR (IPAM leases in the run folder)"
for i in 1 2; do
  conf_dir="$KHG_RUN_DIR/nodes/n$i/net.d"
  said=$(tool "$(khg_node_ns "$i")" render-conflist --conf-dir "$conf_dir" --pod-cidr "$(khg_node_pod_cidr "$i")" \
    --pod-cidr "$(khg_node_pod_cidr6 "$i")" --mtu 1500 --ipam-data-dir "$KHG_RUN_DIR/nodes/n$i/ipam")
  [[ "$said" == *" written" ]] || khg_fail "node$i: conflist not written: $said"
  said=$(tool "$(khg_node_ns "$i")" render-conflist --conf-dir "$conf_dir" --pod-cidr "$(khg_node_pod_cidr "$i")" \
    --pod-cidr "$(khg_node_pod_cidr6 "$i")" --mtu 1500 --ipam-data-dir "$KHG_RUN_DIR/nodes/n$i/ipam")
  [[ "$said" == *" unchanged" ]] || khg_fail "node$i: the same conflist was rewritten: $said"
done
conf1="$KHG_RUN_DIR/nodes/n1/net.d/10-kube-hostgw.conflist"
conf2="$KHG_RUN_DIR/nodes/n2/net.d/10-kube-hostgw.conflist"

khg_step "own-podCIDR unreachable routes: before any pod (no cni0) the podCIDR is refused, not sent to the default gateway"
for i in 1 2; do
  ip -n "$(khg_node_ns "$i")" route add unreachable "$(khg_node_pod_cidr "$i")" proto 44 metric 4278198272
  ip -n "$(khg_node_ns "$i")" -6 route add unreachable "$(khg_node_pod_cidr6 "$i")" proto 44 metric 4278198272
done
if refused=$(ip -n "$n1" route get 10.244.1.99 2>&1); then khg_fail "node1 routes its empty podCIDR: $refused"; fi
[[ "$refused" == *"No route to host"* ]] || khg_fail "node1's empty podCIDR: $refused"
if refused=$(ip -n "$n1" -6 route get 2001:db8:244:1::99 2>&1); then
  khg_fail "node1 routes its empty IPv6 podCIDR: $refused"
fi

khg_step "pods created by the real plugins (bridge, host-local, portmap), run in the node namespaces"
khg_cni_pod_add 1 1 "$conf1"
khg_cni_pod_add 1 2 "$conf1"
khg_cni_pod_add 2 1 "$conf2"
p11=$(khg_pod_ns 1 1)
p12=$(khg_pod_ns 1 2)
p21=$(khg_pod_ns 2 1)
ip11=$(khg_cni_pod_ip 1 1)
ip12=$(khg_cni_pod_ip 1 2)
ip21=$(khg_cni_pod_ip 2 1)
ip611=$(khg_cni_pod_ip 1 1 6)
ip612=$(khg_cni_pod_ip 1 2 6)
ip621=$(khg_cni_pod_ip 2 1 6)
khg_info "pods: $p11=$ip11,$ip611 $p12=$ip12,$ip612 $p21=$ip21,$ip621"
[[ "$ip611" == 2001:db8:244:1::* && "$ip621" == 2001:db8:244:2::* ]] ||
  khg_fail "pods did not get IPv6 addresses from their node's podCIDR: $ip611 $ip621"
[[ "$ip11" == 10.244.1.* && "$ip12" == 10.244.1.* && "$ip21" == 10.244.2.* ]] ||
  khg_fail "pods did not get addresses from their node's podCIDR: $ip11 $ip12 $ip21"
[[ "$(ip -n "$n1" -o addr show dev cni0)" == *"inet 10.244.1.1/24"* ]] ||
  khg_fail "the bridge plugin did not give cni0 the gateway address: $(ip -n "$n1" -o addr show dev cni0)"
[[ "$(ip -n "$p11" route show default)" == *"via 10.244.1.1"* ]] ||
  khg_fail "pod has no default route via the bridge: $(ip -n "$p11" route)"
[[ "$(ip -n "$p11" -j link show eth0 | jq '.[0].mtu')" == 1500 ]] || khg_fail "pod eth0 MTU is not the conflist's 1500"
[[ -n "$(ls "$KHG_RUN_DIR/nodes/n1/ipam/kube-hostgw/")" ]] || khg_fail "host-local kept no lease in the run folder"
khg_ping "$p11" "$ip12" 1 || khg_fail "pods on the same node cannot ping through cni0"

khg_step "routes between the nodes (added by the test for now)"
ip -n "$n1" route add 10.244.2.0/24 via "$(khg_node_ip 2)" proto 44
ip -n "$n2" route add 10.244.1.0/24 via "$(khg_node_ip 1)" proto 44
ip -n "$n1" -6 route add "$(khg_node_pod_cidr6 2)" via "$(khg_node_ip6 2)" proto 44
ip -n "$n2" -6 route add "$(khg_node_pod_cidr6 1)" via "$(khg_node_ip6 1)" proto 44
khg_ping "$p11" "$ip21" 2 || khg_fail "pod on node1 cannot ping pod on node2"
khg_wait_for 5 "IPv6 ping from a pod on node1 to a pod on node2" khg_ping6 "$p11" "$ip621" ||
  khg_fail "pod on node1 cannot ping6 pod on node2"
khg_ping "$p11" "$ip12" 1 || khg_fail "the unreachable route took over from the bridge's connected route"
[[ "$(ip -n "$n1" route get 10.244.1.99)" == *"dev cni0"* ]] || khg_fail "node1 does not send its podCIDR to cni0"

khg_step "before masquerade: a pod cannot reach the outside host (nobody routes 10.244.0.0/16 back)"
if khg_ping "$p11" "$KHG_OUTSIDE_IP" 1; then khg_fail "a pod reached the outside host without masquerade"; fi
if khg_ping6 "$p11" "$KHG_OUTSIDE_IP6" 1; then khg_fail "a pod reached the outside host over IPv6 without masquerade"; fi

khg_step "a foreign nftables table on node1, then our masquerade table on both nodes"
ip netns exec "$n1" nft -f - <<'NFT'
table ip foreign {
  chain post {
    type nat hook postrouting priority 50; policy accept;
    ip daddr 192.0.2.0/24 counter accept
  }
}
NFT
foreign_before=$(ip netns exec "$n1" nft list table ip foreign)
masq_args=(--cluster-cidr 10.244.0.0/16 --cluster-cidr "$KHG_CLUSTER_CIDR6"
  --node-address "$(khg_node_ip 1)" --node-address "$(khg_node_ip 2)"
  --node-address "$(khg_node_ip6 1)" --node-address "$(khg_node_ip6 2)")
for ns in "$n1" "$n2"; do
  said=$(tool "$ns" masquerade "${masq_args[@]}")
  [[ "$said" == "action: replace table (table inet kube-hostgw is missing)" ]] || khg_fail "first apply said: $said"
done
[[ "$(ip netns exec "$n1" nft list table inet kube-hostgw)" == *" masquerade "* ]] || khg_fail "no masquerade rule in our table"

khg_step "egress: the outside host sees the node's address; pods reach it"
seen=$(khg_udp_source "$p11" "$out" "$KHG_OUTSIDE_IP")
[[ "$seen" == "$(khg_node_ip 1)" ]] || khg_fail "outside host saw $seen, expected node1's $(khg_node_ip 1)"
khg_info "pod $ip11 -> outside: seen as $seen"
khg_ping "$p21" "$KHG_OUTSIDE_IP" 2 || khg_fail "pod on node2 cannot ping the outside host with masquerade on"
seen=$(khg_udp_source "$p11" "$out" "$KHG_OUTSIDE_IP6")
[[ "$seen" == "$(khg_node_ip6 1)" ]] || khg_fail "outside host saw $seen over IPv6, expected node1's $(khg_node_ip6 1)"
khg_info "pod $ip611 -> outside: seen as $seen"
khg_ping6 "$p21" "$KHG_OUTSIDE_IP6" 2 || khg_fail "pod on node2 cannot ping6 the outside host with masquerade on"

khg_step "pod -> pod on another node and pod -> another node keep the pod's address"
seen=$(khg_udp_source "$p11" "$p21" "$ip21")
[[ "$seen" == "$ip11" ]] || khg_fail "pod on node2 saw $seen, expected the sender pod's $ip11"
khg_info "pod $ip11 -> pod $ip21: seen as $seen"
seen=$(khg_udp_source "$p11" "$n2" "$(khg_node_ip 2)")
[[ "$seen" == "$ip11" ]] || khg_fail "node2 saw $seen, expected the sender pod's $ip11"
khg_info "pod $ip11 -> node2 $(khg_node_ip 2): seen as $seen"
seen=$(khg_udp_source "$p11" "$p21" "$ip621")
[[ "$seen" == "$ip611" ]] || khg_fail "pod on node2 saw $seen over IPv6, expected the sender pod's $ip611"
seen=$(khg_udp_source "$p11" "$n2" "$(khg_node_ip6 2)")
[[ "$seen" == "$ip611" ]] || khg_fail "node2 saw $seen over IPv6, expected the sender pod's $ip611"
khg_info "IPv6: pod -> pod and pod -> node2 keep $ip611"

khg_step "a re-apply with the same input changes nothing"
ruleset_before=$(ip netns exec "$n1" nft -a list ruleset)
said=$(tool "$n1" masquerade "${masq_args[@]}")
[[ "$said" == "action: none" ]] || khg_fail "second apply said: $said"
[[ "$(ip netns exec "$n1" nft -a list ruleset)" == "$ruleset_before" ]] || khg_fail "a re-apply changed the ruleset"

khg_step "a node added later: masqueraded before its address is in the set, exempt right after (element update)"
khg_podnet_node_add 3
n3=$(khg_node_ns 3)
ip -n "$n3" route add 10.244.1.0/24 via "$(khg_node_ip 1)"
seen=$(khg_udp_source "$p11" "$n3" "$(khg_node_ip 3)")
[[ "$seen" == "$(khg_node_ip 1)" ]] || khg_fail "before the update node3 saw $seen, expected node1's address"
table_handle=$(ip netns exec "$n1" nft -a list table inet kube-hostgw | head -n 1)
said=$(tool "$n1" masquerade "${masq_args[@]}" --node-address "$(khg_node_ip 3)")
[[ "$said" == "action: update elements (1 set element(s) differ)" ]] || khg_fail "node added: $said"
[[ "$(ip netns exec "$n1" nft -a list table inet kube-hostgw | head -n 1)" == "$table_handle" ]] ||
  khg_fail "adding a node re-created the table instead of updating a set"
seen=$(khg_udp_source "$p11" "$n3" "$(khg_node_ip 3)")
[[ "$seen" == "$ip11" ]] || khg_fail "after the update node3 saw $seen, expected the pod's $ip11"

khg_step "our table changed by hand is put back"
ip netns exec "$n1" nft add rule inet kube-hostgw postrouting counter accept
said=$(tool "$n1" masquerade "${masq_args[@]}" --node-address "$(khg_node_ip 3)")
[[ "$said" == "action: replace table (table inet kube-hostgw differs from ours: chain postrouting has 3 rules instead of 2)" ]] ||
  khg_fail "hand change: $said"

khg_step "masquerade off removes our table only"
said=$(tool "$n1" masquerade-off)
[[ "$said" == "action: delete table (masquerade is off and table inet kube-hostgw exists)" ]] || khg_fail "off: $said"
[[ "$(ip netns exec "$n1" nft list tables)" == "table ip foreign" ]] ||
  khg_fail "tables after masquerade off: $(ip netns exec "$n1" nft list tables)"
[[ "$(ip netns exec "$n1" nft list table ip foreign)" == "$foreign_before" ]] || khg_fail "the foreign table changed"
if khg_ping "$p12" "$KHG_OUTSIDE_IP" 1; then khg_fail "a pod still reached the outside host with our table gone"; fi
if khg_ping6 "$p12" "$KHG_OUTSIDE_IP6" 1; then khg_fail "a pod still reached the outside host over IPv6"; fi

khg_step "pods removed with CNI DEL: veths and leases released"
khg_cni_pod_del 1 1 "$conf1"
khg_cni_pod_del 1 2 "$conf1"
khg_cni_pod_del 2 1 "$conf2"
[[ -z "$(ip -n "$n1" -o link show master cni0)" ]] || khg_fail "veths left on node1's cni0: $(ip -n "$n1" -o link show master cni0)"
leases=$(find "$KHG_RUN_DIR/nodes/n1/ipam" -name '10.244.*' | wc -l)
((leases == 0)) || khg_fail "host-local kept $leases lease(s) after DEL"

khg_pass
