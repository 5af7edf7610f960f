#!/usr/bin/env bash
# Scenario 7 — a node on another subnet (behind a router) cannot be reached by a
# host-gw route: every peer skips it with a clear log line and a metric, and the
# nodes on the shared LAN are routed as usual.
#
# Runs with --cross-subnet=skip (the plain host-gw behaviour); cross_subnet_vxlan_test.sh
# covers the default, --cross-subnet=vxlan.
source "$(dirname "$0")/lib.sh"
khg_init other-subnet
KHG_HOSTGW_ARGS=(--cross-subnet=skip)

khg_step "cluster: node1..node3 on 198.51.100.0/24, node4 on 203.0.113.0/24 behind a router"
khg_cluster_up 3 1 1
khg_ping "$(khg_node_ns 1)" "$(khg_node_ip 4)" 1 || khg_fail "node1 cannot reach node4 through the router: broken set-up"
khg_hostgw_start_all
khg_wait_for 20 "full mesh between node1..node3" khg_full_mesh_ok 1 2 3 || khg_fail "no full mesh on the LAN"
khg_wait_for 20 "every node ready" khg_all_ready || khg_fail "a node is not ready"

khg_step "node4 must be skipped by every peer, with a log line and a metric"
for i in 1 2 3; do
  khg_route_absent "$i" "$(khg_node_pod_cidr 4)" || khg_fail "node$i routes node4's podCIDR although node4 is not on its LAN"
  line=$(grep '"Node skipped"' "$KHG_RUN_DIR/node$i.log" | grep 'node="node4"' | head -n 1 || true)
  [[ -n "$line" ]] || khg_fail "node$i's log has no 'Node skipped' line for node4"
  grep -q 'reason="unreachable_address"' <<<"$line" || khg_fail "node$i: unexpected reason: $line"
  grep -q "$(khg_node_ip 4)" <<<"$line" || khg_fail "node$i: the log line does not name node4's address: $line"
  [[ "$(khg_metric "$i" kube_hostgw_nodes_skipped 'reason="unreachable_address"')" == 1 ]] ||
    khg_fail "node$i: kube_hostgw_nodes_skipped{reason=\"unreachable_address\"} is not 1"
done
khg_info "node1's log: $(grep '"Node skipped"' "$KHG_RUN_DIR/node1.log" | grep 'node="node4"' | head -n 1 | cut -c1-220)"
[[ "$(khg_route_count 4)" == 0 ]] || khg_fail "node4 installed routes to nodes it cannot reach directly"
[[ "$(khg_metric 4 kube_hostgw_nodes_skipped 'reason="unreachable_address"')" == 3 ]] ||
  khg_fail "node4 should count its 3 unreachable peers in kube_hostgw_nodes_skipped"

khg_step "the LAN nodes are unaffected"
khg_all_pods_ping 1 2 3 || khg_fail "pods on the LAN nodes cannot reach each other"
if khg_ping "$(khg_pod_ns 1 1)" "$(khg_pod_ip 4 1)" 1; then
  khg_fail "node1's pod reached node4's pod: there should be no route (test set-up)"
fi

ip -n "$(khg_node_ns 1)" link show hostgw.vxlan >/dev/null 2>&1 && khg_fail "node1 has a VXLAN device with --cross-subnet=skip"

khg_pass
