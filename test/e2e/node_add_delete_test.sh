#!/usr/bin/env bash
# Scenario 2 — a node added through the API gets routes on every node; a node deleted
# through the API loses them everywhere.
source "$(dirname "$0")/lib.sh"
khg_init node-add-delete

khg_step "cluster: 4 node namespaces with a pod each; only node1..node3 in the API"
khg_lan_up
khg_api_up
for i in 1 2 3 4; do
  khg_node_add "$i"
  khg_pods_add "$i" 1
done
for i in 1 2 3; do khg_api_create_node "$i"; done
khg_hostgw_start_all
khg_wait_for 20 "full mesh between node1..node3" khg_full_mesh_ok 1 2 3 || khg_fail "no full mesh between node1..node3"
node4_routes_others() { [[ "$(khg_route_count 4)" == 3 ]]; }
khg_wait_for 10 "node4 (not in the API yet) to route to node1..node3" node4_routes_others ||
  khg_fail "node4 should route to node1..node3 even before its own Node object exists"
khg_wait_for 5 "node4's log to say it is missing from the node list" \
  grep -q "not in the node list" "$KHG_RUN_DIR/node4.log" ||
  khg_fail "node4's log does not say that the node is missing from the node list"

khg_step "adding node4 through the API"
started=$(khg_now_ms)
khg_api_create_node 4
khg_wait_for 10 "routes to node4 on every node" khg_full_mesh_ok 1 2 3 4 || khg_fail "node4's route did not appear everywhere"
elapsed=$(($(khg_now_ms) - started))
khg_info "10.244.4.0/24 via $(khg_node_ip 4) on node1..node3 after $elapsed ms"
khg_figure node_added_to_routes_ms "$elapsed" ms
khg_wait_for 10 "every pod to ping every pod" khg_all_pods_ping 1 2 3 4 || khg_fail "pods cannot reach node4's pod"
grep -q '"Route added".*node="node4"' "$KHG_RUN_DIR/node1.log" || khg_fail "node1's log has no 'Route added' line for node4"

khg_step "deleting node2 through the API"
started=$(khg_now_ms)
khg_api_delete_node node2
removed_everywhere() {
  local i
  for i in 1 3 4; do khg_route_absent "$i" "$(khg_node_pod_cidr 2)" || return 1; done
}
khg_wait_for 10 "the route to node2 to go from node1, node3, node4" removed_everywhere ||
  khg_fail "the route to node2's podCIDR is still there"
elapsed=$(($(khg_now_ms) - started))
khg_info "10.244.2.0/24 removed on node1, node3, node4 after $elapsed ms"
khg_figure node_deleted_to_routes_removed_ms "$elapsed" ms
khg_full_mesh_ok 1 3 4 || khg_fail "the remaining nodes lost more than node2's route"
khg_all_pods_ping 1 3 4 || khg_fail "the remaining pods no longer reach each other"
grep -q '"Route deleted".*node="node2"' "$KHG_RUN_DIR/node1.log" ||
  khg_fail "node1's log has no 'Route deleted' line for node2"

khg_pass
