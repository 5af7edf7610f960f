#!/usr/bin/env bash
# Scenario 3 — a node's podCIDR changes: the old route goes, the new one comes, on every
# other node; the routes to the other nodes are not touched.
source "$(dirname "$0")/lib.sh"
khg_init pod-cidr-change

khg_step "cluster: 3 nodes x 1 pod"
khg_cluster_up 3 1
for i in 1 3; do khg_monitor_start "$i"; done
khg_hostgw_start_all
khg_wait_for 20 "full mesh" khg_full_mesh_ok || khg_fail "no full mesh after the start"

khg_step "changing node2's podCIDR from 10.244.2.0/24 to 10.244.20.0/24 (merge patch)"
# The pods of node2 move with it: cni0 and the pod get addresses in the new range.
node2=$(khg_node_ns 2)
pod2=$(khg_pod_ns 2 1)
ip -n "$node2" addr flush dev cni0
ip -n "$node2" addr add 10.244.20.1/24 dev cni0
ip -n "$pod2" addr flush dev eth0
ip -n "$pod2" addr add 10.244.20.11/24 dev eth0
ip -n "$pod2" route add default via 10.244.20.1
started=$(khg_now_ms)
khg_api_patch_node node2 '{"spec":{"podCIDR":"10.244.20.0/24","podCIDRs":["10.244.20.0/24"]}}'

moved() {
  local i
  for i in 1 3; do
    khg_route_absent "$i" 10.244.2.0/24 || return 1
    khg_route_present "$i" 10.244.20.0/24 "$(khg_node_ip 2)" || return 1
  done
}
khg_wait_for 10 "10.244.2.0/24 gone and 10.244.20.0/24 via $(khg_node_ip 2) present on node1 and node3" moved ||
  khg_fail "the podCIDR change did not reach the routes: node1 has $(khg_routes_snapshot 1 | tr '\n' ';')"
elapsed=$(($(khg_now_ms) - started))
khg_info "routes follow the new podCIDR after $elapsed ms"
khg_figure pod_cidr_change_to_routes_ms "$elapsed" ms

for i in 1 3; do
  [[ "$(khg_route_count "$i")" == 2 ]] || khg_fail "node$i has $(khg_route_count "$i") owned routes, want 2"
done
khg_route_present 1 10.244.3.0/24 "$(khg_node_ip 3)" || khg_fail "node1 lost its route to node3"
[[ "$(khg_monitor_deleted 1 10.244.3.0/24)" == 0 ]] || khg_fail "node1's route to node3 was deleted meanwhile"
[[ "$(khg_monitor_deleted 3 10.244.1.0/24)" == 0 ]] || khg_fail "node3's route to node1 was deleted meanwhile"
[[ "$(khg_monitor_deleted 1 10.244.2.0/24)" -ge 1 ]] || khg_fail "the route monitor saw no deletion of 10.244.2.0/24 on node1"
khg_wait_for 10 "node1's pod to ping node2's pod at its new address" \
  khg_ping "$(khg_pod_ns 1 1)" 10.244.20.11 1 || khg_fail "node1's pod cannot reach 10.244.20.11"
khg_wait_for 10 "node2's pod to ping node3's pod" \
  khg_ping "$pod2" "$(khg_pod_ip 3 1)" 1 || khg_fail "node2's pod cannot reach node3's pod"

khg_pass
