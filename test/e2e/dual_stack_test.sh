#!/usr/bin/env bash
# Scenario 9 — dual stack: nodes with an IPv4 and an IPv6 podCIDR and an address of each
# family get one route per family; pods ping each other across nodes over IPv4 and IPv6.
# A node with an IPv4 address only (but podCIDRs of both families, as a dual-stack
# cluster allocates them) is routed for IPv4 only: no IPv6 route to it, and its peers say
# why (log line and metric).
source "$(dirname "$0")/lib.sh"
khg_init dual-stack

KHG_CLUSTER_CIDRS="$KHG_CLUSTER_CIDR,$KHG_CLUSTER_CIDR6"

khg_step "cluster: node1, node2 dual stack; node3 with an IPv4 address only; 2 pods each"
khg_lan_up
khg_api_up
for i in 1 2 3; do
  khg_node_add "$i"
  khg_pods_add "$i" 2
done
for i in 1 2; do
  khg_node_add_v6 "$i"
  khg_pods_add_v6 "$i"
  khg_api_create_node "$i" "$(khg_node_pod_cidr "$i"),$(khg_node_pod_cidr6 "$i")" "$(khg_node_ip "$i"),$(khg_node_ip6 "$i")"
done
# node3: both podCIDRs allocated, pods with both families, but no IPv6 node address.
khg_cni_add_v6 3
khg_pods_add_v6 3
khg_api_create_node 3 "$(khg_node_pod_cidr 3),$(khg_node_pod_cidr6 3)" "$(khg_node_ip 3)"

khg_ping6 "$(khg_node_ns 1)" "$(khg_node_ip6 2)" 2 || khg_fail "node1 cannot ping node2 over IPv6: broken set-up"
if khg_ping6 "$(khg_pod_ns 1 1)" "$(khg_pod_ip6 2 1)" 1; then
  khg_fail "node1's pod reached node2's pod over IPv6 before kube-hostgw: the test network is wrong"
fi

khg_step "starting kube-hostgw with --cluster-cidr $KHG_CLUSTER_CIDRS"
started=$(khg_now_ms)
khg_hostgw_start_all
khg_wait_for 30 "every pod to ping every pod over IPv4" khg_all_pods_ping || {
  khg_all_pods_ping || true
  khg_fail "pods cannot reach each other over IPv4"
}
khg_wait_for 30 "node1 and node2 pods to ping each other over IPv6" khg_all_pods_ping6 1 2 || {
  khg_all_pods_ping6 1 2 || true
  khg_fail "pods on node1 and node2 cannot reach each other over IPv6"
}
khg_info "$(khg_pod_pairs) IPv4 and $(khg_pod_pairs 1 2) IPv6 pod pairs answer, $(($(khg_now_ms) - started)) ms after the start"
khg_figure dual_stack_time_to_all_pings_ms "$(($(khg_now_ms) - started))" ms
khg_wait_for 20 "every node ready" khg_all_ready || khg_fail "a node is not ready"

khg_step "routes: IPv4 full mesh; IPv6 only between node1 and node2"
khg_full_mesh_ok || khg_fail "IPv4 routes are not exactly the full mesh: $(khg_routes 1)"
for pair in "1 2" "2 1"; do
  read -r i k <<<"$pair"
  khg_route_present "$i" "$(khg_node_pod_cidr6 "$k")" "$(khg_node_ip6 "$k")" ||
    khg_fail "node$i has no route $(khg_node_pod_cidr6 "$k") via $(khg_node_ip6 "$k"): $(khg_routes6 "$i")"
  [[ "$(khg_routes6 "$i" | jq 'length')" == 1 ]] || khg_fail "node$i: expected exactly one owned IPv6 route: $(khg_routes6 "$i")"
done
khg_info "node1 IPv6: $(khg_routes6 1 | jq -c 'map({dst, gateway, dev})')"

khg_step "node3 (IPv4 address only) is routed for IPv4 only"
for i in 1 2; do
  khg_route_absent "$i" "$(khg_node_pod_cidr6 3)" || khg_fail "node$i has an IPv6 route to node3, which has no IPv6 address"
  khg_route_present "$i" "$(khg_node_pod_cidr 3)" "$(khg_node_ip 3)" || khg_fail "node$i has no IPv4 route to node3"
  line=$(grep '"Node skipped"' "$KHG_RUN_DIR/node$i.log" | grep 'node="node3"' | head -n 1 || true)
  [[ -n "$line" ]] || khg_fail "node$i's log has no 'Node skipped' line for node3"
  grep -q 'family="IPv6"' <<<"$line" || khg_fail "node$i: the skip is not for IPv6: $line"
  grep -q 'reason="no_address"' <<<"$line" || khg_fail "node$i: unexpected reason: $line"
  [[ "$(khg_metric "$i" kube_hostgw_nodes_skipped 'reason="no_address"')" == 1 ]] ||
    khg_fail "node$i: kube_hostgw_nodes_skipped{reason=\"no_address\"} is not 1"
done
khg_info "node1's log: $(grep '"Node skipped"' "$KHG_RUN_DIR/node1.log" | grep 'node="node3"' | head -n 1 | cut -c1-200)"
[[ "$(khg_routes6 3 | jq 'length')" == 0 ]] || khg_fail "node3 installed IPv6 routes without an IPv6 address: $(khg_routes6 3)"
if khg_ping6 "$(khg_pod_ns 1 1)" "$(khg_pod_ip6 3 1)" 1; then
  khg_fail "node1's pod reached node3's pod over IPv6: there should be no route"
fi

khg_step "an IPv6 route deleted by hand comes back"
ip -n "$(khg_node_ns 1)" -6 route del "$(khg_node_pod_cidr6 2)" proto 44
khg_wait_for 10 "node1's IPv6 route to node2 to come back" \
  khg_route_present 1 "$(khg_node_pod_cidr6 2)" "$(khg_node_ip6 2)" || khg_fail "the IPv6 route was not repaired"
khg_all_pods_ping6 1 2 || khg_fail "IPv6 pod pings fail after the repair"

khg_pass
